"""The periodic launcher: launches the children of periodic jobs at their cron times
(`controller`, the pure decision in `decide`, the writes in `reconciler.ops.periodic`)."""
