"""polygrad benchmarks: fixed workloads timed against hand-written equivalents."""
