/** Every workflow the worker registers (its workflowsPath). */
export { initialSync } from './initial-sync';
export { companyLink, customerLink, teamworkImport } from './link';
export { reconcileSite } from './reconcile';
export { mailbox } from './mailbox';
export { ticketTask, ticketTaskSync } from './ticket-task';
export { ticketMail } from './ticket-mail';
