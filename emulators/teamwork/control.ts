/**
 * The control surface: what tests, benchmarks and the demo use to set up sites and to act as a
 * person editing in the Teamwork.com UI. Edits here fire webhooks exactly as API edits do; `seed`
 * does not (it models data that already existed). Every method takes one plain object so that the
 * same call works over HTTP as `POST /_emulator/{method}` with that object as the JSON body.
 * Reads return copies of the stored records, so callers cannot change state behind its back.
 */
import { randomBytes } from 'node:crypto';
import { EmulatorError } from './errors';
import type { FaultSpec } from './faults';
import type { Installation } from './installation';
import { companyInputSchema, parseInput, personInputSchema, taskInputSchema } from './inputs';
import type { RequestLogEntry } from './request-log';
import { seedInstallation, type SeedOptions, type SeedResult } from './seed';
import type { EmulatorState } from './state';
import type {
  CompanyInput,
  CompanyRecord,
  PersonInput,
  PersonRecord,
  ProjectRecord,
  TaskInput,
  TaskRecord,
  TasklistRecord,
  WebhookRecord,
} from './types';
import type { DeliveryLogEntry } from './webhooks';
import { createProject, createTask, createTasklist, deleteTask, updateTask } from './work';

export interface InstallationHandle {
  name: string;
  baseUrl: string;
  apiKey: string;
  ownerCompanyId: number;
  siteOwnerId: number;
}

interface On {
  installation: string;
}
interface OnRecord extends On {
  id: number;
}

const copy = <T>(value: T): T => structuredClone(value);

export class TeamworkControl {
  constructor(
    private readonly state: EmulatorState,
    private readonly serverUrl: () => string,
  ) {}

  // ---- sites -----------------------------------------------------------------------------

  createInstallation(args: { name: string; apiKey?: string; ownerCompanyName?: string }): InstallationHandle {
    const apiKey = args.apiKey ?? `twp_${randomBytes(12).toString('hex')}`;
    if (this.state.installationByApiKey.has(apiKey)) {
      throw new EmulatorError('conflict', 'That API key belongs to another installation');
    }
    const installation = this.state.addInstallation(args.name, args.ownerCompanyName ?? `${args.name} (owner)`);
    this.state.addApiKey(installation, apiKey);
    return this.handle(installation, apiKey);
  }

  listInstallations(): Array<InstallationHandle & { apiKeys: string[] }> {
    return [...this.state.installations.values()].map((installation) => {
      const apiKeys = [...this.state.installationByApiKey]
        .filter(([, holder]) => holder === installation)
        .map(([apiKey]) => apiKey);
      return { ...this.handle(installation, apiKeys[0]), apiKeys };
    });
  }

  addApiKey(args: On & { apiKey: string }): void {
    this.state.addApiKey(this.state.installation(args.installation), args.apiKey);
  }

  /** Forgets every installation, log, fault and pending webhook delivery. */
  reset(): void {
    this.state.reset();
  }

  seed(args: SeedOptions): SeedResult {
    return seedInstallation(this.state.installation(args.installation), args);
  }

  // ---- UI-like edits (fire webhooks) -------------------------------------------------------

  createCompany(args: On & { company: CompanyInput }): CompanyRecord {
    return copy(this.site(args).createCompany(parseInput(companyInputSchema, args.company)));
  }

  updateCompany(args: OnRecord & { patch: CompanyInput }): CompanyRecord {
    return copy(this.site(args).updateCompany(args.id, parseInput(companyInputSchema, args.patch)));
  }

  deleteCompany(args: OnRecord): void {
    this.site(args).deleteCompany(args.id);
  }

  createPerson(args: On & { person: PersonInput }): PersonRecord {
    return copy(this.site(args).createPerson(parseInput(personInputSchema, args.person)));
  }

  updatePerson(args: OnRecord & { patch: PersonInput }): PersonRecord {
    return copy(this.site(args).updatePerson(args.id, parseInput(personInputSchema, args.patch)));
  }

  deletePerson(args: OnRecord): void {
    this.site(args).deletePerson(args.id);
  }

  createProject(args: On & { name: string; description?: string; companyId?: number }): ProjectRecord {
    return copy(createProject(this.site(args), args));
  }

  createTasklist(args: On & { projectId: number; name: string }): TasklistRecord {
    return copy(createTasklist(this.site(args), args));
  }

  createTask(args: On & { tasklistId: number; task: TaskInput }): TaskRecord {
    return copy(createTask(this.site(args), args.tasklistId, parseInput(taskInputSchema, args.task)));
  }

  updateTask(args: OnRecord & { patch: TaskInput }): TaskRecord {
    return copy(updateTask(this.site(args), args.id, parseInput(taskInputSchema, args.patch)));
  }

  completeTask(args: OnRecord): TaskRecord {
    return copy(updateTask(this.site(args), args.id, { status: 'completed' }));
  }

  deleteTask(args: OnRecord): void {
    deleteTask(this.site(args), args.id);
  }

  // ---- reads for assertions (raw stored records, deleted ones included) --------------------

  getCompany(args: OnRecord): CompanyRecord | null {
    return copy(this.site(args).companies.get(args.id) ?? null);
  }

  listCompanies(args: On): CompanyRecord[] {
    return copy([...this.site(args).companies.values()]);
  }

  getPerson(args: OnRecord): PersonRecord | null {
    return copy(this.site(args).people.get(args.id) ?? null);
  }

  listPeople(args: On & { companyId?: number }): PersonRecord[] {
    const people = [...this.site(args).people.values()];
    return copy(args.companyId === undefined ? people : people.filter((person) => person.companyId === args.companyId));
  }

  listTasks(args: On): TaskRecord[] {
    return copy([...this.site(args).tasks.values()]);
  }

  /** Registered webhooks including their tokens (the API never shows tokens). */
  listWebhooks(args: On): WebhookRecord[] {
    return copy([...this.site(args).webhooks.values()]);
  }

  // ---- faults, limits, logs ----------------------------------------------------------------

  injectFaults(args: FaultSpec): void {
    this.state.faults.inject(args);
  }

  clearFaults(): void {
    this.state.faults.clear();
  }

  /** Applies at once, to windows already open. */
  setRateLimit(args: { perMinute: number }): void {
    this.state.limiter.setLimit(args.perMinute);
  }

  requestLog(args: Partial<On> = {}): RequestLogEntry[] {
    return copy(this.state.requestLog.list(args.installation));
  }

  clearRequestLog(): void {
    this.state.requestLog.clear();
  }

  requestCounts(args: Partial<On> = {}): Record<string, number> {
    return this.state.requestLog.counts(args.installation);
  }

  deliveries(args: Partial<On> = {}): DeliveryLogEntry[] {
    return copy(
      this.state.dispatcher.deliveries().filter((entry) => !args.installation || entry.installation === args.installation),
    );
  }

  clearDeliveries(): void {
    this.state.dispatcher.clearDeliveries();
  }

  /** Resolves when no webhook delivery is in flight or waiting for a retry. */
  webhooksSettled(): Promise<void> {
    return this.state.dispatcher.settled();
  }

  private handle(installation: Installation, apiKey: string): InstallationHandle {
    return {
      name: installation.name,
      baseUrl: `${this.serverUrl()}/${installation.name}`,
      apiKey,
      ownerCompanyId: installation.ownerCompanyId,
      siteOwnerId: installation.siteOwnerId,
    };
  }

  private site(args: On): Installation {
    return this.state.installation(args.installation);
  }
}
