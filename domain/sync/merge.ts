/**
 * Field-by-field three-way merge of one linked record (C5, C8, C13).
 *
 * `base` holds the values both sides agreed on at the last sync. A side "edited" a field when its
 * current value differs from the base. One-sided edits are copied to the other side; same-field
 * edits to different values are settled by the site's conflict policy. Because a write we made
 * becomes the new base, reading it back from the other side's webhook finds no difference: an
 * echo never turns into a new edit (C14).
 */
export type Side = 'teamwork' | 'desk';
export type ConflictPolicy = 'latest' | 'teamwork' | 'desk';
export type FieldValue = string | string[] | null | undefined;
export type FieldValues = Record<string, FieldValue>;

export interface SideState {
  values: FieldValues;
  /** When each field (or, lacking that, the record) was last modified on that side. */
  modifiedAt: (field: string) => number;
}

export interface SettledConflict {
  field: string;
  teamwork: FieldValue;
  desk: FieldValue;
  winner: Side;
  rule: 'policy' | 'latest' | 'filled-beats-empty';
}

export interface MergeResult {
  merged: FieldValues;
  /** Fields (with their new values) to write to each side; empty when that side already agrees. */
  writeTeamwork: FieldValues;
  writeDesk: FieldValues;
  conflicts: SettledConflict[];
  /** Which side each changed field came from, for the sync history. */
  changedBy: Record<string, Side>;
}

export function isEmpty(value: FieldValue): boolean {
  return value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

export function sameValue(a: FieldValue, b: FieldValue): boolean {
  if (isEmpty(a) && isEmpty(b)) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    const left = Array.isArray(a) ? a : isEmpty(a) ? [] : [a];
    const right = Array.isArray(b) ? b : isEmpty(b) ? [] : [b];
    return left.length === right.length && left.every((v, i) => v === right[i]);
  }
  return a === b;
}

export function mergeRecord(fields: readonly string[], base: FieldValues, teamwork: SideState, desk: SideState, policy: ConflictPolicy): MergeResult {
  const result: MergeResult = { merged: {}, writeTeamwork: {}, writeDesk: {}, conflicts: [], changedBy: {} };
  for (const field of fields) {
    const was = base[field];
    const tw = teamwork.values[field];
    const dk = desk.values[field];
    const twEdited = !sameValue(tw, was);
    const dkEdited = !sameValue(dk, was);
    let value: FieldValue;
    if (!twEdited && !dkEdited) {
      value = was;
    } else if (twEdited && !dkEdited) {
      value = tw;
      result.changedBy[field] = 'teamwork';
    } else if (!twEdited && dkEdited) {
      value = dk;
      result.changedBy[field] = 'desk';
    } else if (sameValue(tw, dk)) {
      value = tw;
    } else {
      const winner = settle(field, tw, dk, teamwork, desk, policy);
      value = winner.side === 'teamwork' ? tw : dk;
      result.changedBy[field] = winner.side;
      result.conflicts.push({ field, teamwork: tw, desk: dk, winner: winner.side, rule: winner.rule });
    }
    result.merged[field] = value;
    if (!sameValue(tw, value)) result.writeTeamwork[field] = value;
    if (!sameValue(dk, value)) result.writeDesk[field] = value;
  }
  return result;
}

function settle(field: string, tw: FieldValue, dk: FieldValue, teamwork: SideState, desk: SideState, policy: ConflictPolicy): { side: Side; rule: SettledConflict['rule'] } {
  // Both sides edited: an emptied field loses to a filled one whatever the policy (C13).
  if (isEmpty(tw) !== isEmpty(dk)) return { side: isEmpty(tw) ? 'desk' : 'teamwork', rule: 'filled-beats-empty' };
  if (policy === 'teamwork' || policy === 'desk') return { side: policy, rule: 'policy' };
  // Ties go to Teamwork.com: it is the system of record the sync started from.
  return { side: desk.modifiedAt(field) > teamwork.modifiedAt(field) ? 'desk' : 'teamwork', rule: 'latest' };
}
