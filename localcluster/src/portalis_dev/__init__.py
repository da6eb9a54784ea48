"""Local development control plane: real etcd, kube-apiserver, controller-manager, scheduler and kwok."""
