/**
 * The wire contract, as .proto text embedded in the bundle (a single executable has no files to read).
 *
 * - package `pluginv2`: the subset of Grafana's plugin protocol we serve. Message and field names and
 *   numbers follow grafana-plugin-sdk-go `proto/backend.proto`; fields we never read or write are left
 *   out (protobuf skips unknown fields), and every field we do declare keeps its number.
 * - package `plugin`: hashicorp/go-plugin's controller, stdio and broker services (`internal/plugin/*.proto`).
 * - package `grpc.health.v1`: the standard gRPC health service (grpc `doc/health-checking.md`).
 */
export const PROTO_TEXT = `
syntax = "proto3";

package pluginv2;

message AppInstanceSettings {
  bytes jsonData = 3;
  map<string, string> decryptedSecureJsonData = 4;
  int64 lastUpdatedMS = 5;
  string apiVersion = 6;
}

message DataSourceInstanceSettings {
  int64 id = 1;
  string name = 2;
  string url = 3;
  string user = 4;
  string database = 5;
  bool basicAuthEnabled = 6;
  string basicAuthUser = 7;
  bytes jsonData = 8;
  map<string, string> decryptedSecureJsonData = 9;
  int64 lastUpdatedMS = 10;
  string uid = 11;
  string apiVersion = 12;
}

message User {
  string login = 1;
  string name = 2;
  string email = 3;
  string role = 4;
}

message PluginContext {
  int64 orgId = 1;
  string pluginId = 2;
  User user = 3;
  AppInstanceSettings appInstanceSettings = 4;
  DataSourceInstanceSettings dataSourceInstanceSettings = 5;
  map<string, string> grafanaConfig = 6;
  string pluginVersion = 7;
  string userAgent = 8;
  string apiVersion = 9;
}

service Resource {
  rpc CallResource(CallResourceRequest) returns (stream CallResourceResponse);
}

message StringList {
  repeated string values = 1;
}

message CallResourceRequest {
  PluginContext pluginContext = 1;
  string path = 2;
  string method = 3;
  string url = 4;
  map<string, StringList> headers = 5;
  bytes body = 6;
}

message CallResourceResponse {
  int32 code = 1;
  map<string, StringList> headers = 2;
  bytes body = 3;
}

service Data {
  rpc QueryData(QueryDataRequest) returns (QueryDataResponse);
}

message TimeRange {
  int64 fromEpochMS = 1;
  int64 toEpochMS = 2;
}

message DataQuery {
  string refId = 1;
  int64 maxDataPoints = 2;
  int64 intervalMS = 3;
  TimeRange timeRange = 4;
  bytes json = 5;
  string queryType = 6;
}

message QueryDataRequest {
  PluginContext pluginContext = 1;
  map<string, string> headers = 2;
  repeated DataQuery queries = 3;
}

message QueryDataResponse {
  map<string, DataResponse> responses = 1;
}

message DataResponse {
  repeated bytes frames = 1;
  string error = 2;
  int32 status = 4;
  string errorSource = 5;
}

service Diagnostics {
  rpc CheckHealth(CheckHealthRequest) returns (CheckHealthResponse);
  rpc CollectMetrics(CollectMetricsRequest) returns (CollectMetricsResponse);
}

message CollectMetricsRequest {
  PluginContext pluginContext = 1;
}

message CollectMetricsResponse {
  message Payload {
    bytes prometheus = 1;
  }
  Payload metrics = 1;
}

message CheckHealthRequest {
  PluginContext pluginContext = 1;
  map<string, string> headers = 2;
}

message CheckHealthResponse {
  enum HealthStatus {
    UNKNOWN = 0;
    OK = 1;
    ERROR = 2;
  }
  HealthStatus status = 1;
  string message = 2;
  bytes jsonDetails = 3;
}

service Stream {
  rpc SubscribeStream(SubscribeStreamRequest) returns (SubscribeStreamResponse);
  rpc RunStream(RunStreamRequest) returns (stream StreamPacket);
  rpc PublishStream(PublishStreamRequest) returns (PublishStreamResponse);
}

message SubscribeStreamRequest {
  PluginContext pluginContext = 1;
  string path = 2;
  bytes data = 3;
  map<string, string> headers = 4;
}

message SubscribeStreamResponse {
  enum Status {
    OK = 0;
    NOT_FOUND = 1;
    PERMISSION_DENIED = 2;
  }
  Status status = 1;
  bytes data = 2;
}

message PublishStreamRequest {
  PluginContext pluginContext = 1;
  string path = 2;
  bytes data = 3;
  map<string, string> headers = 4;
}

message PublishStreamResponse {
  enum Status {
    OK = 0;
    NOT_FOUND = 1;
    PERMISSION_DENIED = 2;
  }
  Status status = 1;
  bytes data = 2;
}

message RunStreamRequest {
  PluginContext pluginContext = 1;
  string path = 2;
  bytes data = 3;
  map<string, string> headers = 4;
}

message StreamPacket {
  bytes data = 1;
}
`;

export const GO_PLUGIN_PROTO_TEXT = `
syntax = "proto3";

package plugin;

message Empty {}

service GRPCController {
  rpc Shutdown(Empty) returns (Empty);
}

message StdioData {
  enum Channel {
    INVALID = 0;
    STDOUT = 1;
    STDERR = 2;
  }
  Channel channel = 1;
  bytes data = 2;
}

service GRPCStdio {
  rpc StreamStdio(Empty) returns (stream StdioData);
}

message ConnInfo {
  uint32 service_id = 1;
  string network = 2;
  string address = 3;
  message Knock {
    bool knock = 1;
    bool ack = 2;
    string error = 3;
  }
  Knock knock = 4;
}

service GRPCBroker {
  rpc StartStream(stream ConnInfo) returns (stream ConnInfo);
}
`;

export const HEALTH_PROTO_TEXT = `
syntax = "proto3";

package grpc.health.v1;

message HealthCheckRequest {
  string service = 1;
}

message HealthCheckResponse {
  enum ServingStatus {
    UNKNOWN = 0;
    SERVING = 1;
    NOT_SERVING = 2;
    SERVICE_UNKNOWN = 3;
  }
  ServingStatus status = 1;
}

service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
`;
