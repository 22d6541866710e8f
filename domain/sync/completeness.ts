/** C7: a customer syncs only with first name, last name, primary email and company. */
export const requiredCustomerFields = ['firstName', 'lastName', 'email', 'company'] as const;

export function missingCustomerFields(customer: { firstName?: string | null; lastName?: string | null; email?: string | null; companyId?: unknown }): string[] {
  const present: Record<(typeof requiredCustomerFields)[number], boolean> = {
    firstName: Boolean(customer.firstName?.trim()),
    lastName: Boolean(customer.lastName?.trim()),
    email: Boolean(customer.email?.trim()),
    company: Boolean(customer.companyId),
  };
  return requiredCustomerFields.filter((f) => !present[f]);
}
