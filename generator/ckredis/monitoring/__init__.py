"""Monitoring: PodMonitor, alert rules with promtool tests, uptime Probe, container probes, dashboard (issue 4).

Everything is derived here from the model: the alert catalogue (names, expressions, thresholds, severities, texts,
runbook links), the promtool unit tests that prove every alert, the container probes and the Grafana dashboard.
Templates only place the results. By concern: settings.py (spec.monitoring as plain data, part of the model),
scope.py, catalogue.py, promtool_tests.py, dashboard.py, probes.py, and chart.py (what a chart holds, from the
model). This package module imports nothing, so building a model (which imports settings.py) loads no catalogue.

Scoping. The PodMonitor adds `redisfailover` (the RedisFailover's name, from the pod label the operator sets) to
the `namespace`, `pod` and `container` labels Prometheus Operator gives every target. Every expression selects
on namespace + redisfailover (+ container, which tells the redis exporter from the sentinel exporter), and
aggregates `by (cluster, namespace, redisfailover)`, so two clusters in one namespace never mix (operator issue
#421). `cluster` is absent in a workload cluster's Prometheus and set by Thanos setups; grouping by it is
harmless where it is missing and keeps Kubernetes clusters apart where it is not.
"""
