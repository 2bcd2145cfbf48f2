package httpapi

// The JSON documents of nimbus's REST API (docs/api.md, docs/openapi.yaml), shaped after
// Storm's UI REST API; latencies are in milliseconds. sparsectl reads them too (the
// Stats call answers the same documents).

// ClusterSummary is GET /api/v1/cluster/summary.
type ClusterSummary struct {
	SparseVersion  string `json:"sparseVersion"`
	Nimbus         string `json:"nimbus"`
	Leader         string `json:"leader"`
	NimbusUptime   string `json:"nimbusUptime"`
	NimbusUptimeS  int64  `json:"nimbusUptimeSeconds"`
	Supervisors    int    `json:"supervisors"`
	SlotsTotal     int    `json:"slotsTotal"`
	SlotsUsed      int    `json:"slotsUsed"`
	SlotsFree      int    `json:"slotsFree"`
	ExecutorsTotal int    `json:"executorsTotal"`
	TasksTotal     int    `json:"tasksTotal"`
	Topologies     int    `json:"topologies"`
}

// SupervisorSummary is one row of GET /api/v1/supervisor/summary.
type SupervisorSummary struct {
	ID            string  `json:"id"`
	Host          string  `json:"host"`
	Uptime        string  `json:"uptime"`
	UptimeSeconds int64   `json:"uptimeSeconds"`
	SlotsTotal    int     `json:"slotsTotal"`
	SlotsUsed     int     `json:"slotsUsed"`
	SlotsFree     int     `json:"slotsFree"`
	Slots         []int32 `json:"slots"`
	UsedSlots     []int32 `json:"usedSlots"`
}

// NimbusSummary is one row of GET /api/v1/nimbus/summary.
type NimbusSummary struct {
	ID            string `json:"id"`
	Host          string `json:"host"`
	Port          int    `json:"port"`
	Address       string `json:"address"`
	HTTPAddress   string `json:"httpAddress,omitempty"`
	Status        string `json:"status"` // Leader or Not a Leader
	Version       string `json:"version"`
	NimbusUpTime  string `json:"nimbusUpTime"`
	NimbusUpTimeS int64  `json:"nimbusUpTimeSeconds"`
}

// TopologyRow is one row of GET /api/v1/topology/summary, and the head of a topology.
type TopologyRow struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Status           string `json:"status"` // ACTIVE, INACTIVE, KILLED, REBALANCING
	Uptime           string `json:"uptime"`
	UptimeSeconds    int64  `json:"uptimeSeconds"`
	TasksTotal       int32  `json:"tasksTotal"`
	WorkersTotal     int32  `json:"workersTotal"`
	ExecutorsTotal   int32  `json:"executorsTotal"`
	RequestedWorkers int32  `json:"requestedWorkers"`
	Owner            string `json:"owner"`
	SchedulerInfo    string `json:"schedulerInfo"`
}

// WindowStats are a topology's or a component's figures in one window.
type WindowStats struct {
	Window          string  `json:"window"`
	WindowPretty    string  `json:"windowPretty"`
	Emitted         int64   `json:"emitted"`
	Transferred     int64   `json:"transferred"`
	Acked           int64   `json:"acked"`
	Failed          int64   `json:"failed"`
	CompleteLatency float64 `json:"completeLatency"`
	Executed        int64   `json:"executed,omitempty"`
	ExecuteLatency  float64 `json:"executeLatency,omitempty"`
	ProcessLatency  float64 `json:"processLatency,omitempty"`
}

// ComponentRow is a spout or bolt on the topology page.
type ComponentRow struct {
	SpoutID         string  `json:"spoutId,omitempty"`
	BoltID          string  `json:"boltId,omitempty"`
	Executors       int     `json:"executors"`
	Tasks           int     `json:"tasks"`
	Emitted         int64   `json:"emitted"`
	Transferred     int64   `json:"transferred"`
	Acked           int64   `json:"acked"`
	Failed          int64   `json:"failed"`
	TimedOut        int64   `json:"timedOut,omitempty"`
	CompleteLatency float64 `json:"completeLatency,omitempty"`
	Executed        int64   `json:"executed,omitempty"`
	ExecuteLatency  float64 `json:"executeLatency,omitempty"`
	ProcessLatency  float64 `json:"processLatency,omitempty"`
	Capacity        float64 `json:"capacity,omitempty"`
	Pending         int64   `json:"pending,omitempty"`
	QueueFill       float64 `json:"queueFill"`
	Errors          int64   `json:"errors"`
	LastError       string  `json:"lastError"`
	ErrorTime       string  `json:"errorTime,omitempty"`
	ErrorLapsedSecs *int64  `json:"errorLapsedSecs"`
}

// WorkerRow is a worker on the topology page.
type WorkerRow struct {
	ID            string  `json:"id"`
	SupervisorID  string  `json:"supervisorId"`
	Host          string  `json:"host"`
	Port          int32   `json:"port"`
	Alive         bool    `json:"alive"`
	Uptime        string  `json:"uptime"`
	UptimeSeconds int64   `json:"uptimeSeconds"`
	Tasks         []int32 `json:"tasks"`
}

// TopologyPage is GET /api/v1/topology/{id}.
type TopologyPage struct {
	TopologyRow
	Window     string `json:"window"`
	WindowHint string `json:"windowHint"`
	// StatsSince is when the window's figures start (the leader counts from when it
	// began to lead; see docs/stats.md); StatsAvailable is false before any worker
	// reported.
	StatsSince        string            `json:"statsSince"`
	StatsAvailable    bool              `json:"statsAvailable"`
	MsgTimeout        int               `json:"msgTimeout"`
	AssignmentVersion int64             `json:"assignmentVersion"`
	TopologyStats     []WindowStats     `json:"topologyStats"`
	Spouts            []ComponentRow    `json:"spouts"`
	Bolts             []ComponentRow    `json:"bolts"`
	Workers           []WorkerRow       `json:"workers"`
	Errors            []string          `json:"errors"`
	Configuration     map[string]any    `json:"configuration"`
	ArtifactSHA256    string            `json:"artifactSha256"`
	Links             map[string]string `json:"links"`
}

// ExecutorRow is an executor on the component page.
type ExecutorRow struct {
	ID              string  `json:"id"` // [first-last] task
	WorkerID        string  `json:"workerId"`
	Host            string  `json:"host"`
	Port            int     `json:"port"`
	Emitted         int64   `json:"emitted"`
	Transferred     int64   `json:"transferred"`
	Acked           int64   `json:"acked"`
	Failed          int64   `json:"failed"`
	CompleteLatency float64 `json:"completeLatency,omitempty"`
	Executed        int64   `json:"executed,omitempty"`
	ExecuteLatency  float64 `json:"executeLatency,omitempty"`
	ProcessLatency  float64 `json:"processLatency,omitempty"`
	Capacity        float64 `json:"capacity,omitempty"`
	QueueFill       float64 `json:"queueFill"`
	Pending         int64   `json:"pending,omitempty"`
	LastReportSecs  int64   `json:"lastReportSecs"`
}

// ComponentError is a component's last error.
type ComponentError struct {
	Time            string `json:"time"`
	ErrorLapsedSecs int64  `json:"errorLapsedSecs"`
	ErrorHost       string `json:"errorHost"`
	ErrorPort       int    `json:"errorPort"`
	Error           string `json:"error"`
}

// ComponentPage is GET /api/v1/topology/{id}/component/{component}.
type ComponentPage struct {
	ID              string           `json:"id"`
	Name            string           `json:"name"` // the topology's
	TopologyID      string           `json:"topologyId"`
	ComponentType   string           `json:"componentType"` // spout, bolt or acker
	Executors       int              `json:"executors"`
	Tasks           int              `json:"tasks"`
	Window          string           `json:"window"`
	WindowHint      string           `json:"windowHint"`
	StatsSince      string           `json:"statsSince"`
	Stats           []WindowStats    `json:"stats"`
	ExecutorStats   []ExecutorRow    `json:"executorStats"`
	ComponentErrors []ComponentError `json:"componentErrors"`
}

// ActionResult is the answer of a POST action, as Storm's.
type ActionResult struct {
	TopologyOperation string `json:"topologyOperation"`
	TopologyID        string `json:"topologyId"`
	Status            string `json:"status"`
	WaitSecs          *int   `json:"waitSecs,omitempty"`
}

// RebalanceOptions is the body of POST .../rebalance/{wait}, as Storm's.
type RebalanceOptions struct {
	RebalanceOptions struct {
		NumWorkers int            `json:"numWorkers"`
		Executors  map[string]int `json:"executors"`
	} `json:"rebalanceOptions"`
}

// StatsOverview is the cluster with every topology's spout figures in a window
// (sparsectl stats without a topology).
type StatsOverview struct {
	Cluster    ClusterSummary     `json:"cluster"`
	Window     string             `json:"window"`
	WindowHint string             `json:"windowHint"`
	Topologies []TopologyStatsRow `json:"topologies"`
}

// TopologyStatsRow is a topology and its spouts' figures in the window (absent when
// the nimbus that answers is a standby, which holds none).
type TopologyStatsRow struct {
	TopologyRow
	StatsSince string       `json:"statsSince,omitempty"`
	Stats      *WindowStats `json:"stats,omitempty"`
}

// Whoami is GET /api/v1/whoami: whether the API requires tokens, and the caller's.
type Whoami struct {
	// ACL is true when every call needs a token (nimbusd --acl).
	ACL bool `json:"acl"`
	// Name and Role are the caller's token's; empty without ACLs.
	Name string `json:"name"`
	Role string `json:"role"`
}
