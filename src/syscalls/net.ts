import { HandlerTable } from './api';
export const netHandlers: HandlerTable = {};
