import path from 'node:path';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

export type History = proto.temporal.api.history.v1.IHistory;
export type HistoryJson = { events: Array<Record<string, unknown>> };

/**
 * Temporal's proto JSON for histories: what `historyToJSON` / `historyFromJSON` from
 * @temporalio/common/lib/proto-utils do. Those fail here ("type must be a Type"): npm gives
 * @temporalio/common and @temporalio/proto separate copies of protobufjs 8 (grpc's protobufjs 7
 * holds the top level) and protojson checks the message type with instanceof, so protojson is
 * taken from the copy @temporalio/proto's types belong to.
 */
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

let protojson: ProtoJson | undefined;
function protoJson(): ProtoJson {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the copy is found at run time, see above
  protojson ??= require(require.resolve('protobufjs/ext/protojson', { paths: [path.dirname(require.resolve('@temporalio/proto'))] })) as ProtoJson;
  return protojson;
}

// The generated module's types leave out the reflection methods the patched root has.
const historyType = () => (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

export function historyToJson(history: History): HistoryJson {
  return protoJson().toJson(historyType(), proto.temporal.api.history.v1.History.fromObject(history)) as HistoryJson;
}

/** Unknown fields (a history from a newer server) are ignored, as Temporal's own loader does. */
export function historyFromJson(json: unknown): History {
  return protoJson().fromJson(historyType(), json, { ignoreUnknownFields: true }) as History;
}
