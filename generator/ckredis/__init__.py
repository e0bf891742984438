"""ckredis: render a reviewable Helm chart for one Redis Sentinel cluster from a short YAML spec."""

__version__ = "0.1.0"
