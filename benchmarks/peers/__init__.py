"""Benchmark baselines: re-implementations of the peers' post-processing, written for this project's benchmarks.

Not the peers' code: each module re-states, in our own words, the algorithm of one public implementation
(HRNet, ``leoxiaobin/deep-high-resolution-net.pytorch``; DarkPose, ``ilovepose/DarkPose``) with the same
data flow (per-keypoint Python loops, per-sample ``cv2.getAffineTransform``, per-map ``cv2.GaussianBlur``,
float32 where the peer keeps float32) so that timing it measures what the peer costs. The benchmarks check each
baseline equal to our implementation on random maps before timing it. Used only by ``benchmarks/``.
"""
