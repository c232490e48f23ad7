"""SimPy reference models of the benchmark workloads (``seqlab bench``).

Each is an event-by-event SimPy model of the same workload seqlab runs vectorised; the
benchmarks report seqlab's throughput as a ratio against it and check that both agree
on the workload's mean latency or round time.
"""
