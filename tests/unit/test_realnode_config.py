"""What a real node is configured as, without starting one: slots, names, labels, taints, kubelet config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portalis_dev import nodenet, nodes, realnode

pytestmark = pytest.mark.unit


def test_a_slot_decides_ports_addresses_and_bridge_apart_from_every_other_slot() -> None:
    slots = [nodenet.Slot(i) for i in range(1, nodenet.MAX_SLOT + 1)]
    for attr in ("node_ip", "subnet", "bridge", "kubelet_port", "healthz_port"):
        assert len({getattr(s, attr) for s in slots}) == len(slots), attr
    assert {s.kubelet_port for s in slots}.isdisjoint({s.healthz_port for s in slots})
    assert all(len(s.bridge) <= 15 for s in slots)  # IFNAMSIZ
    assert all(not s.node_ip.startswith("127.") for s in slots)  # the kubelet refuses loopback
    deep = realnode.RealNode("real-" + "x" * 57, slots[-1], Path("/a") / ("deep" * 40))
    assert len(f"{deep.socket}.ttrpc") < 104  # unix socket paths are short; state directories need not be
    # the kubelet's own sockets (pod-resources/<10 digits>) are under the node's root: not the node's name
    assert "x" * 57 not in str(deep.root)


def test_the_dnat_rule_sends_only_the_nodes_pods_to_its_own_api_server() -> None:
    rule = nodenet.Slot(7).dnat_rule(41234)
    assert rule[0] == "PREROUTING"
    assert rule[rule.index("-s") + 1] == "10.244.7.0/24"
    assert rule[rule.index("-d") + 1] == f"{nodenet.SERVICE_IP}/32"
    assert rule[rule.index("--to-destination") + 1] == "127.0.0.1:41234"


def test_pool_specs_name_spread_and_skip_taken_names() -> None:
    specs = realnode.pool_specs("p", {"spot": 2, "on-demand": 1}, existing=["real-p-spot-0"])
    assert [(s.name, s.capacity_type) for s in specs] == [
        ("real-p-spot-1", "spot"),
        ("real-p-spot-2", "spot"),
        ("real-p-od-0", "on-demand"),
    ]
    assert len({s.zone for s in specs}) == 3
    assert all(s.pool == "p" and s.gpus == 8 for s in specs)


def test_real_nodes_carry_the_labels_and_taints_of_simulated_ones() -> None:
    spec = nodes.DGXNode(name="n", capacity_type="spot", pool="p")
    simulated = nodes.build_node(spec)
    labels = nodes.pool_labels(spec)
    assert labels.items() <= simulated["metadata"]["labels"].items()
    assert {nodes.CAPACITY_TYPE_LABEL, nodes.POOL_LABEL, nodes.ZONE_LABEL} <= set(labels)
    assert nodes.taints(spec) == simulated["spec"]["taints"] == [nodes.spot_taint()]
    assert nodes.taints(nodes.DGXNode(name="o", capacity_type="on-demand")) == []


def test_kubelet_config_serves_on_the_node_ip_trusts_the_cluster_ca_and_registers_the_taints() -> None:
    node = realnode.RealNode("n", nodenet.Slot(3), Path("/state"))
    taints = [nodes.spot_taint()]
    config = json.loads(realnode._kubelet_config(node, Path("/state/pki/ca.crt"), taints))
    assert config["address"] == node.ip == "10.245.0.3"
    assert config["port"] == node.slot.kubelet_port
    assert config["healthzBindAddress"] == "127.0.0.1"
    assert config["authentication"]["x509"]["clientCAFile"] == "/state/pki/ca.crt"
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["registerWithTaints"] == taints
    cni = json.loads(realnode._cni_config(node))
    bridge = cni["plugins"][0]
    assert bridge["bridge"] == node.slot.bridge
    assert bridge["isDefaultGateway"] is True  # pods route to the Service IP through the bridge
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.3.0/24"}]]
