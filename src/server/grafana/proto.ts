/**
 * Turns the embedded .proto text into protobufjs types and @grpc/grpc-js service definitions.
 * Decoded messages are plain objects with the proto field names (keepCase), int64 as JS numbers,
 * bytes as Buffer, enums as numbers, and defaults filled in (proto3 semantics).
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { GO_PLUGIN_PROTO_TEXT, HEALTH_PROTO_TEXT, PROTO_TEXT } from './protoText';

/** Parses every embedded .proto text into one root. */
export function loadProtocolRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const text of [PROTO_TEXT, GO_PLUGIN_PROTO_TEXT, HEALTH_PROTO_TEXT]) {
    protobuf.parse(text, root, { keepCase: true });
  }
  root.resolveAll();
  return root;
}

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  bytes: Buffer,
  defaults: true,
  arrays: true,
  objects: true,
};

/** Encodes a plain object as the given message type; throws when a field has the wrong type. */
export function encodeMessage(type: protobuf.Type, value: object): Buffer {
  const problem = type.verify(value);
  if (problem) {
    throw new Error(`cannot encode ${type.fullName}: ${problem}`);
  }
  return Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish());
}

/** Decodes bytes into a plain object of the given message type. */
export function decodeMessage<T>(type: protobuf.Type, bytes: Uint8Array): T {
  return type.toObject(type.decode(bytes), TO_OBJECT) as T;
}

/** Builds the grpc-js definition of one service, e.g. `pluginv2.Data`. */
export function serviceDefinition(root: protobuf.Root, fullName: string): ServiceDefinition {
  const service = root.lookupService(fullName);
  const definition: Record<string, ServiceDefinition[string]> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const requestType = method.resolvedRequestType!;
    const responseType = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/${fullName}/${method.name}`,
      requestStream: Boolean(method.requestStream),
      responseStream: Boolean(method.responseStream),
      requestSerialize: (value: object) => encodeMessage(requestType, value),
      requestDeserialize: (bytes: Buffer) => decodeMessage(requestType, bytes),
      responseSerialize: (value: object) => encodeMessage(responseType, value),
      responseDeserialize: (bytes: Buffer) => decodeMessage(responseType, bytes),
      originalName: method.name,
    };
  }
  return definition;
}
