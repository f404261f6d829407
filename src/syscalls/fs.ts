import { HandlerTable } from './api';
export const fsHandlers: HandlerTable = {};
