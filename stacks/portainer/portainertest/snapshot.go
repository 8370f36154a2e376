package portainertest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// snapshot is Portainer's record of a Docker environment, embedded in
// GET /api/endpoints without excludeSnapshots. The engine's objects are
// decoded into the types Portainer 2.23 vendors (below), so the field set is
// Portainer's, whatever the engine sends.
type snapshot struct {
	Time                    int64       `json:"Time"`
	DockerVersion           string      `json:"DockerVersion"`
	Swarm                   bool        `json:"Swarm"`
	TotalCPU                int         `json:"TotalCPU"`
	TotalMemory             int64       `json:"TotalMemory"`
	ContainerCount          int         `json:"ContainerCount"`
	RunningContainerCount   int         `json:"RunningContainerCount"`
	StoppedContainerCount   int         `json:"StoppedContainerCount"`
	HealthyContainerCount   int         `json:"HealthyContainerCount"`
	UnhealthyContainerCount int         `json:"UnhealthyContainerCount"`
	VolumeCount             int         `json:"VolumeCount"`
	ImageCount              int         `json:"ImageCount"`
	ServiceCount            int         `json:"ServiceCount"`
	StackCount              int         `json:"StackCount"`
	DockerSnapshotRaw       snapshotRaw `json:"DockerSnapshotRaw"`
	NodeCount               int         `json:"NodeCount"`
	GpuUseAll               bool        `json:"GpuUseAll"`
	GpuUseList              []string    `json:"GpuUseList"`
	IsPodman                bool        `json:"IsPodman"`
}

type snapshotRaw struct {
	Containers []containerSummary `json:"Containers"`
	Volumes    volumeList         `json:"Volumes"`
	Networks   []networkResource  `json:"Networks"`
	Images     []imageSummary     `json:"Images"`
	Info       engineInfo         `json:"Info"`
	Version    engineVersion      `json:"Version"`
}

type containerSummary struct {
	ID         string            `json:"Id"`
	Names      []string          `json:"Names"`
	Image      string            `json:"Image"`
	ImageID    string            `json:"ImageID"`
	Command    string            `json:"Command"`
	Created    int64             `json:"Created"`
	Ports      []port            `json:"Ports"`
	Labels     map[string]string `json:"Labels"`
	State      string            `json:"State"`
	Status     string            `json:"Status"`
	HostConfig struct {
		NetworkMode string `json:"NetworkMode"`
	} `json:"HostConfig"`
	NetworkSettings struct {
		Networks map[string]endpointSettings `json:"Networks"`
	} `json:"NetworkSettings"`
	Mounts []mountPoint `json:"Mounts"`
}

type port struct {
	IP          string `json:"IP,omitempty"`
	PrivatePort uint16 `json:"PrivatePort"`
	PublicPort  uint16 `json:"PublicPort,omitempty"`
	Type        string `json:"Type"`
}

type mountPoint struct {
	Type        string `json:"Type,omitempty"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Driver      string `json:"Driver,omitempty"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}

type endpointSettings struct {
	IPAMConfig          json.RawMessage   `json:"IPAMConfig"`
	Links               []string          `json:"Links"`
	Aliases             []string          `json:"Aliases"`
	MacAddress          string            `json:"MacAddress"`
	NetworkID           string            `json:"NetworkID"`
	EndpointID          string            `json:"EndpointID"`
	Gateway             string            `json:"Gateway"`
	IPAddress           string            `json:"IPAddress"`
	IPPrefixLen         int               `json:"IPPrefixLen"`
	IPv6Gateway         string            `json:"IPv6Gateway"`
	GlobalIPv6Address   string            `json:"GlobalIPv6Address"`
	GlobalIPv6PrefixLen int               `json:"GlobalIPv6PrefixLen"`
	DriverOpts          map[string]string `json:"DriverOpts"`
	DNSNames            []string          `json:"DNSNames"`
}

type volumeList struct {
	Volumes  []json.RawMessage `json:"Volumes"`
	Warnings []string          `json:"Warnings"`
}

type networkResource struct {
	Name       string `json:"Name"`
	ID         string `json:"Id"`
	Created    string `json:"Created"`
	Scope      string `json:"Scope"`
	Driver     string `json:"Driver"`
	EnableIPv6 bool   `json:"EnableIPv6"`
	IPAM       struct {
		Driver  string            `json:"Driver"`
		Options map[string]string `json:"Options"`
		Config  []struct {
			Subnet     string            `json:"Subnet,omitempty"`
			IPRange    string            `json:"IPRange,omitempty"`
			Gateway    string            `json:"Gateway,omitempty"`
			AuxAddress map[string]string `json:"AuxiliaryAddresses,omitempty"`
		} `json:"Config"`
	} `json:"IPAM"`
	Internal   bool `json:"Internal"`
	Attachable bool `json:"Attachable"`
	Ingress    bool `json:"Ingress"`
	ConfigFrom struct {
		Network string `json:"Network"`
	} `json:"ConfigFrom"`
	ConfigOnly bool                       `json:"ConfigOnly"`
	Containers map[string]json.RawMessage `json:"Containers"`
	Options    map[string]string          `json:"Options"`
	Labels     map[string]string          `json:"Labels"`
}

type imageSummary struct {
	Containers  int64             `json:"Containers"`
	Created     int64             `json:"Created"`
	ID          string            `json:"Id"`
	Labels      map[string]string `json:"Labels"`
	ParentID    string            `json:"ParentId"`
	RepoDigests []string          `json:"RepoDigests"`
	RepoTags    []string          `json:"RepoTags"`
	SharedSize  int64             `json:"SharedSize"`
	Size        int64             `json:"Size"`
	VirtualSize int64             `json:"VirtualSize"`
}

type commit struct {
	ID       string `json:"ID"`
	Expected string `json:"Expected"`
}

type engineInfo struct {
	ID                string     `json:"ID"`
	Containers        int        `json:"Containers"`
	ContainersRunning int        `json:"ContainersRunning"`
	ContainersPaused  int        `json:"ContainersPaused"`
	ContainersStopped int        `json:"ContainersStopped"`
	Images            int        `json:"Images"`
	Driver            string     `json:"Driver"`
	DriverStatus      [][]string `json:"DriverStatus"`
	Plugins           struct {
		Volume        []string `json:"Volume"`
		Network       []string `json:"Network"`
		Authorization []string `json:"Authorization"`
		Log           []string `json:"Log"`
	} `json:"Plugins"`
	MemoryLimit        bool   `json:"MemoryLimit"`
	SwapLimit          bool   `json:"SwapLimit"`
	KernelMemory       bool   `json:"KernelMemory"`
	KernelMemoryTCP    bool   `json:"KernelMemoryTCP"`
	CPUCfsPeriod       bool   `json:"CpuCfsPeriod"`
	CPUCfsQuota        bool   `json:"CpuCfsQuota"`
	CPUShares          bool   `json:"CPUShares"`
	CPUSet             bool   `json:"CPUSet"`
	PidsLimit          bool   `json:"PidsLimit"`
	IPv4Forwarding     bool   `json:"IPv4Forwarding"`
	BridgeNfIptables   bool   `json:"BridgeNfIptables"`
	BridgeNfIP6tables  bool   `json:"BridgeNfIp6tables"`
	Debug              bool   `json:"Debug"`
	NFd                int    `json:"NFd"`
	OomKillDisable     bool   `json:"OomKillDisable"`
	NGoroutines        int    `json:"NGoroutines"`
	SystemTime         string `json:"SystemTime"`
	LoggingDriver      string `json:"LoggingDriver"`
	CgroupDriver       string `json:"CgroupDriver"`
	CgroupVersion      string `json:"CgroupVersion"`
	NEventsListener    int    `json:"NEventsListener"`
	KernelVersion      string `json:"KernelVersion"`
	OperatingSystem    string `json:"OperatingSystem"`
	OSVersion          string `json:"OSVersion"`
	OSType             string `json:"OSType"`
	Architecture       string `json:"Architecture"`
	IndexServerAddress string `json:"IndexServerAddress"`
	RegistryConfig     struct {
		AllowNondistributableArtifactsCIDRs     []string `json:"AllowNondistributableArtifactsCIDRs"`
		AllowNondistributableArtifactsHostnames []string `json:"AllowNondistributableArtifactsHostnames"`
		InsecureRegistryCIDRs                   []string `json:"InsecureRegistryCIDRs"`
		IndexConfigs                            map[string]struct {
			Name     string   `json:"Name"`
			Mirrors  []string `json:"Mirrors"`
			Secure   bool     `json:"Secure"`
			Official bool     `json:"Official"`
		} `json:"IndexConfigs"`
		Mirrors []string `json:"Mirrors"`
	} `json:"RegistryConfig"`
	NCPU              int                          `json:"NCPU"`
	MemTotal          int64                        `json:"MemTotal"`
	GenericResources  json.RawMessage              `json:"GenericResources"`
	DockerRootDir     string                       `json:"DockerRootDir"`
	HTTPProxy         string                       `json:"HttpProxy"`
	HTTPSProxy        string                       `json:"HttpsProxy"`
	NoProxy           string                       `json:"NoProxy"`
	Name              string                       `json:"Name"`
	Labels            []string                     `json:"Labels"`
	ExperimentalBuild bool                         `json:"ExperimentalBuild"`
	ServerVersion     string                       `json:"ServerVersion"`
	Runtimes          map[string]map[string]string `json:"Runtimes"`
	DefaultRuntime    string                       `json:"DefaultRuntime"`
	Swarm             swarmInfo                    `json:"Swarm"`
	LiveRestore       bool                         `json:"LiveRestoreEnabled"`
	Isolation         string                       `json:"Isolation"`
	InitBinary        string                       `json:"InitBinary"`
	ContainerdCommit  commit                       `json:"ContainerdCommit"`
	RuncCommit        commit                       `json:"RuncCommit"`
	InitCommit        commit                       `json:"InitCommit"`
	SecurityOptions   []string                     `json:"SecurityOptions"`
	CDISpecDirs       []string                     `json:"CDISpecDirs"`
	Warnings          []string                     `json:"Warnings"`
}

type swarmInfo struct {
	NodeID           string `json:"NodeID"`
	NodeAddr         string `json:"NodeAddr"`
	LocalNodeState   string `json:"LocalNodeState"`
	ControlAvailable bool   `json:"ControlAvailable"`
	Error            string `json:"Error"`
	RemoteManagers   []struct {
		NodeID string `json:"NodeID"`
		Addr   string `json:"Addr"`
	} `json:"RemoteManagers"`
	Nodes    int          `json:"Nodes"`
	Managers int          `json:"Managers"`
	Cluster  *clusterInfo `json:"Cluster,omitempty"`
}

// duration is a time.Duration that Portainer's snapshot writes as text
// ("5s", "2160h0m0s") although the engine sends nanoseconds.
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *duration) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		*d = duration(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = duration(v)
	return err
}

type clusterInfo struct {
	ID      string `json:"ID"`
	Version struct {
		Index uint64 `json:"Index"`
	} `json:"Version"`
	CreatedAt string `json:"CreatedAt"`
	UpdatedAt string `json:"UpdatedAt"`
	Spec      struct {
		Name          string            `json:"Name"`
		Labels        map[string]string `json:"Labels"`
		Orchestration struct {
			TaskHistoryRetentionLimit *int64 `json:"TaskHistoryRetentionLimit"`
		} `json:"Orchestration"`
		Raft struct {
			SnapshotInterval           uint64 `json:"SnapshotInterval"`
			KeepOldSnapshots           uint64 `json:"KeepOldSnapshots"`
			LogEntriesForSlowFollowers uint64 `json:"LogEntriesForSlowFollowers"`
			ElectionTick               int    `json:"ElectionTick"`
			HeartbeatTick              int    `json:"HeartbeatTick"`
		} `json:"Raft"`
		Dispatcher struct {
			HeartbeatPeriod duration `json:"HeartbeatPeriod"`
		} `json:"Dispatcher"`
		CAConfig struct {
			NodeCertExpiry duration `json:"NodeCertExpiry"`
		} `json:"CAConfig"`
		TaskDefaults struct {
			LogDriver json.RawMessage `json:"LogDriver,omitempty"`
		} `json:"TaskDefaults"`
		EncryptionConfig struct {
			AutoLockManagers bool `json:"AutoLockManagers"`
		} `json:"EncryptionConfig"`
	} `json:"Spec"`
	TLSInfo struct {
		TrustRoot           string `json:"TrustRoot"`
		CertIssuerSubject   string `json:"CertIssuerSubject"`
		CertIssuerPublicKey string `json:"CertIssuerPublicKey"`
	} `json:"TLSInfo"`
	RootRotationInProgress bool     `json:"RootRotationInProgress"`
	DefaultAddrPool        []string `json:"DefaultAddrPool"`
	SubnetSize             uint32   `json:"SubnetSize"`
	DataPathPort           uint32   `json:"DataPathPort"`
}

type engineVersion struct {
	Platform struct {
		Name string `json:"Name"`
	} `json:"Platform"`
	Components []struct {
		Name    string            `json:"Name"`
		Version string            `json:"Version"`
		Details map[string]string `json:"Details"`
	} `json:"Components"`
	Version       string `json:"Version"`
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion"`
	GitCommit     string `json:"GitCommit"`
	GoVersion     string `json:"GoVersion"`
	Os            string `json:"Os"`
	Arch          string `json:"Arch"`
	KernelVersion string `json:"KernelVersion"`
	BuildTime     string `json:"BuildTime"`
}

// takeSnapshot reads the engine as Portainer's snapshot job does.
func takeSnapshot(ctx context.Context, hc *http.Client, now time.Time) (*snapshot, error) {
	var raw snapshotRaw
	var services []json.RawMessage
	var nodes []json.RawMessage
	for _, get := range []struct {
		path string
		v    any
	}{
		{"/containers/json?all=1", &raw.Containers},
		{"/volumes", &raw.Volumes},
		{"/networks", &raw.Networks},
		{"/images/json", &raw.Images},
		{"/info", &raw.Info},
		{"/version", &raw.Version},
	} {
		if err := engineGet(ctx, hc, get.path, get.v); err != nil {
			return nil, err
		}
	}
	sn := &snapshot{
		Time:          now.Unix(),
		DockerVersion: raw.Version.Version,
		Swarm:         raw.Info.Swarm.ControlAvailable,
		TotalCPU:      raw.Info.NCPU,
		TotalMemory:   raw.Info.MemTotal,
		ImageCount:    len(raw.Images),
		VolumeCount:   len(raw.Volumes.Volumes),
		GpuUseList:    []string{},
	}
	stacks := map[string]bool{}
	for _, c := range raw.Containers {
		sn.ContainerCount++
		switch c.State {
		case "running":
			sn.RunningContainerCount++
		case "exited":
			sn.StoppedContainerCount++
		}
		switch {
		case strings.Contains(c.Status, "(healthy)"):
			sn.HealthyContainerCount++
		case strings.Contains(c.Status, "(unhealthy)"):
			sn.UnhealthyContainerCount++
		}
		if ns := c.Labels["com.docker.stack.namespace"]; ns != "" {
			stacks[ns] = true
		}
	}
	if sn.Swarm {
		if err := engineGet(ctx, hc, "/services", &services); err != nil {
			return nil, err
		}
		if err := engineGet(ctx, hc, "/nodes", &nodes); err != nil {
			return nil, err
		}
		sn.ServiceCount = len(services)
		sn.NodeCount = len(nodes)
	} else {
		sn.NodeCount = 1
	}
	sn.StackCount = len(stacks)
	sn.DockerSnapshotRaw = raw
	return sn, nil
}
