package resources

// Ports EMQX listens on with its default configuration, which the operator
// keeps (docs/internals/managed.md, "Ports and probes"). Every name is a
// valid IANA service name of at most 15 characters, as the API server
// requires for container and Service ports.
const (
	PortMQTT       int32 = 1883  // MQTT over TCP
	PortMQTTS      int32 = 8883  // MQTT over TLS, only with spec.managed.tls
	PortWS         int32 = 8083  // MQTT over WebSocket, path /mqtt
	PortWSS        int32 = 8084  // MQTT over secure WebSocket, only with spec.managed.tls
	PortDashboard  int32 = 18083 // dashboard; on 5.x also the REST API and /status
	PortManagement int32 = 8081  // 4.x only: REST API /api/v4 and /status
	PortEkka       int32 = 4370  // Erlang distribution (node-name prefix "emqx" has no numeric suffix)
	PortGenRPC     int32 = 5369  // gen_rpc, fixed by the image's entrypoint

	PortNameMQTT       = "mqtt"
	PortNameMQTTS      = "mqtts"
	PortNameWS         = "ws"
	PortNameWSS        = "wss"
	PortNameDashboard  = "dashboard"
	PortNameManagement = "management"
	PortNameEkka       = "ekka"
	PortNameGenRPC     = "gen-rpc"
)
