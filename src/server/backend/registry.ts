/**
 * The query handlers of the datasource, one per query type (src/core/query/queryTypes.ts). A handler
 * receives the parsed query with Grafana's time range, interval and point budget, the datasource
 * instance and an abort signal, and returns frames in the contract of src/core/query/frames.ts.
 * It knows nothing of gRPC or Arrow.
 */
import type { FrameLike } from '../../core/query/frames';
import type { QueryOf, QueryType } from '../../core/query/queryTypes';
import type { DatasourceInstance } from './instances';

export interface QueryRequest<T extends QueryType = QueryType> {
  query: QueryOf<T>;
  /** Epoch ms, from inclusive, to exclusive. */
  range: { from: number; to: number };
  /** Grafana's suggested interval between points, in ms. */
  intervalMs: number;
  maxDataPoints: number;
  /** The query comes from an alert rule's evaluation (Grafana's `FromAlert` header; plan.ts says what changes). */
  alert?: boolean;
  /** When the request arrived, epoch ms (default: now). */
  now?: number;
  instance: DatasourceInstance;
  signal: AbortSignal;
}

export type QueryHandler<T extends QueryType = QueryType> = (request: QueryRequest<T>) => Promise<FrameLike[]>;

export class QueryHandlerRegistry {
  private readonly handlers = new Map<QueryType, QueryHandler>();

  /** Registers the handler of a query type; registering a type twice is a programming error. */
  register<T extends QueryType>(type: T, handler: QueryHandler<T>): void {
    if (this.handlers.has(type)) {
      throw new Error(`a handler for query type '${type}' is already registered`);
    }
    this.handlers.set(type, handler as unknown as QueryHandler);
  }

  get<T extends QueryType>(type: T): QueryHandler<T> | undefined {
    return this.handlers.get(type) as QueryHandler<T> | undefined;
  }

  types(): QueryType[] {
    return [...this.handlers.keys()];
  }
}

/** The registry the backend serves from. */
export const queryHandlers = new QueryHandlerRegistry();

export function registerQueryHandler<T extends QueryType>(type: T, handler: QueryHandler<T>): void {
  queryHandlers.register(type, handler);
}
