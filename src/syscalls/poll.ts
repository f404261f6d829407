import { HandlerTable } from './api';
export const pollHandlers: HandlerTable = {};
