/** Workflow ids are business keys (SPEC O1): one running workflow per site, link or inbox. */
export const workflowIds = {
  initialSync: (siteId: string) => `initial-sync/${siteId}`,
  companyLink: (siteId: string, linkId: string) => `company-link/${siteId}/${linkId}`,
  customerLink: (siteId: string, linkId: string) => `customer-link/${siteId}/${linkId}`,
  reconcile: (siteId: string) => `reconcile/${siteId}`,
  /** One per pause: resuming twice from the same pause joins the same pass (C16). */
  reconcileAfterPause: (siteId: string, pausedAt: Date) => `reconcile/${siteId}/after-pause-${pausedAt.getTime()}`,
  mailbox: (inboxId: string) => `mailbox/${inboxId}`,
  ticketMail: (kind: 'reply' | 'forward', ticketId: string, mailId: string) => `ticket-${kind}/${ticketId}/${mailId}`,
  /** One per creation request: a repeated request joins the workflow of the first (I13). */
  ticketTask: (ticketId: string, requestId: string) => `ticket-task/${ticketId}/${requestId}`,
  ticketTaskSync: (siteId: string, teamworkTaskId: number) => `ticket-task-sync/${siteId}/${teamworkTaskId}`,
};

export const teamworkImportId = (siteId: string, entity: 'company' | 'customer', teamworkId: number) => `teamwork-import/${siteId}/${entity}-${teamworkId}`;
export const reconcileScheduleId = (siteId: string) => `reconcile-schedule/${siteId}`;
