package heal

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are heal's Prometheus metrics, on a registry of their own (never
// the global default one).
type Metrics struct {
	Registry     *prometheus.Registry
	nodes        *prometheus.GaugeVec
	remediations *prometheus.CounterVec
	lastDecision prometheus.Gauge
	refused      prometheus.Counter
	managers     *prometheus.GaugeVec
}

// NewMetrics registers heal's metrics on a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shoal_heal_nodes", Help: "Swarm nodes by role and state, as last observed.",
		}, []string{"role", "state"}),
		remediations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_heal_remediations_total", Help: "Remediation actions by kind and outcome (ok, failed, dry-run).",
		}, []string{"kind", "outcome"}),
		lastDecision: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shoal_heal_last_decision_timestamp_seconds", Help: "Unix time of the last decision.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_heal_refused_decisions_total", Help: "Decisions in which a safety rule (quorum, maxUnhealthy, no manager) held remediation back.",
		}),
		managers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shoal_heal_managers", Help: "Managers in the swarm, total and reachable.",
		}, []string{"which"}),
	}
	m.Registry.MustRegister(m.nodes, m.remediations, m.lastDecision, m.refused, m.managers)
	return m
}

// Handler serves /metrics from the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// observe records a decision and the snapshot it was made on.
func (m *Metrics) observe(s Snapshot, d Decision) {
	if m == nil {
		return
	}
	m.nodes.Reset()
	for _, n := range s.Nodes {
		m.nodes.WithLabelValues(n.Role, n.State).Inc()
	}
	m.lastDecision.Set(float64(d.At.UnixNano()) / 1e9)
	if d.Refused {
		m.refused.Inc()
	}
	m.managers.WithLabelValues("total").Set(float64(d.Managers))
	m.managers.WithLabelValues("reachable").Set(float64(d.ManagersReachable))
}

func (m *Metrics) remediation(kind ActionKind, outcome string) {
	if m == nil {
		return
	}
	m.remediations.WithLabelValues(string(kind), outcome).Inc()
}
