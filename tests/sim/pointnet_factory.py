"""The PointNet test network (bmtool_lab.examples.pointnet) and a plain bmtk PointNet run script."""

from __future__ import annotations

from bmtool_lab.examples.pointnet import DEPRESSING, FACILITATING, GLIF, IAF, build_pointnet_network

__all__ = ["DEPRESSING", "FACILITATING", "GLIF", "IAF", "RUN_POINTNET", "build_pointnet_network"]


RUN_POINTNET = """
import sys
from bmtk.simulator import pointnet
conf = pointnet.Config.from_json(sys.argv[1])
conf.build_env()
net = pointnet.PointNetwork.from_config(conf)
sim = pointnet.PointSimulator.from_config(conf, net)
sim.run()
"""
