//! Kubernetes resource quantities ("100m", "10M", "1Gi") as integers.
