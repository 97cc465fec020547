"""The probe-family dashboards (grafana/generate.py writes them): one per group of probe types,
measurement names from docs/probes*.md."""

from builders import *  # noqa: F401,F403 (the building blocks; a generator, not a library)

def latency_ttl_replication():
    types = ["latency", "ttl", "replication"]
    items = [
        (probe_runs_panel(types), 24, 5),
        (row("latency: command latency and availability"), 24, 1),
        (measurement_panel("Availability", "availability_ratio",
                           "Commands that succeeded / commands sent, per run.",
                           sla="availability_ratio"), 8, 8),
        (measurement_panel("GET latency (median per run)", "get_latency_seconds",
                           "Median over the run's GETs.", sla="get_latency_seconds"), 8, 8),
        (quantile_panel("GET latency p99 over runs", "get_latency_seconds",
                        "p99 of the per-run medians (redis_chaosd_measurement_seconds), against "
                        "the SLA threshold.", by="probe"), 8, 8),
        (measurement_panel("PING / SET latency (median per run)",
                           ["ping_latency_seconds", "set_latency_seconds"],
                           "Median over the run's PINGs and SETs."), 12, 8),
        (measurement_panel("Slowest command per run", "max_latency_seconds",
                           "The slowest successful command of each run."), 12, 8),
        (row("ttl: expiry accuracy, timing, reclaim"), 24, 1),
        (measurement_panel("Expiry accuracy", "expiry_accuracy_ratio",
                           "Keys present just before their deadline and gone just after, on the "
                           "primary.", sla="expiry_accuracy_ratio"), 8, 8),
        (measurement_panel("Expiry accuracy on replica reads", "replica_expiry_accuracy_ratio",
                           "The same check read from each replica (subject).",
                           sla="replica_expiry_accuracy_ratio"), 8, 8),
        (measurement_panel("Expiry timing error", "expiry_timing_error_seconds",
                           "Worst timing error over the timing keys.",
                           sla="expiry_timing_error_seconds"), 8, 8),
        (measurement_panel("Expired keys reclaimed", "expired_reclaim_ratio",
                           "Keys whose `expired` keyspace event arrived in time (absent when "
                           "notifications are off).", sla="expired_reclaim_ratio"), 12, 8),
        (measurement_panel("Reclaim delay", "reclaim_delay_seconds",
                           "Worst delay from deadline to `expired` event."), 12, 8),
        (row("replication: lag and convergence"), 24, 1),
        (timeseries("Replication lag per replica / region", [
            target(f"redis_chaosd_replication_lag_seconds{{{SEL}}}", "{{target}} {{region}}"),
            target(sla_threshold_expr("replication_lag_seconds"), "SLA threshold {{op}}",
                   ref="Z")],
            unit="s", min_=0, overrides=[THRESHOLD_STYLE],
            description="redis_chaosd_replication_lag_seconds: heartbeat written on the primary "
                        "until seen on the replica, on the daemon's clock."), 12, 8),
        (quantile_panel("Replication lag p99 over runs", "replication_lag_seconds",
                        "p99 of the measured lags per replica (subject)."), 12, 8),
        (measurement_panel("Convergence", "convergence_ratio",
                           "Replicas that showed the heartbeat within max_wait.",
                           sla="convergence_ratio"), 24, 7),
    ]
    return dashboard(
        "redis-chaosd-latency-ttl-replication", "redis-chaosd / Latency, TTL, replication",
        "The latency, ttl and replication probes: command latency and availability, key expiry "
        "accuracy, replication lag.",
        [INSTANCE, TARGET, probe_variable(types)], items)


def locks_stampede():
    types = ["lock", "stampede"]
    items = [
        (probe_runs_panel(types), 24, 5),
        (row("lock: contention, safety, deadlocks, lease expiry"), 24, 1),
        (measurement_panel("Acquire latency p99", "lock_acquire_p99_seconds",
                           "First attempt to acquired, p99 over the contention phase.",
                           sla="lock_acquire_p99_seconds"), 8, 8),
        (measurement_panel("Lock throughput", "lock_throughput_per_second",
                           "Acquisitions per second of the contention phase.",
                           sla="lock_throughput_per_second"), 8, 8),
        (measurement_panel("Safety violations", "lock_safety_violations_total",
                           "Non-increasing fencing tokens and overlapping holders (must be 0).",
                           sla="lock_safety_violations_total"), 8, 8),
        (measurement_panel("Acquisitions and timeouts per run",
                           ["lock_acquisitions_total", "lock_timeouts_total"],
                           "Locks taken in the contention phase, and acquisitions given up."),
         8, 8),
        (measurement_panel("Deadlock detection vs timeout resolution",
                           ["deadlock_detection_seconds", "deadlock_timeout_resolution_seconds"],
                           "Wait-for cycle formed to detected, and the same cycle resolved by "
                           "timeouts only.", sla="deadlock_detection_seconds"), 8, 8),
        (measurement_panel("Lease expiry recovery", "lease_expiry_recovery_seconds",
                           "Dead holder's acquire to another worker holding the lock.",
                           sla="lease_expiry_recovery_seconds"), 8, 8),
        (measurement_panel("Deadlocks with ordered locking", "ordered_deadlocks_total",
                           "Wait-for cycles while two parties take locks in one global order "
                           "(must be 0).", sla="ordered_deadlocks_total"), 12, 7),
        (measurement_panel("Ordered completion", "ordered_completion_ratio",
                           "Parties of the ordering scenario that held both locks."), 12, 7),
        (row("stampede: single-flight recomputation"), 24, 1),
        (measurement_panel("Recomputations per expiry", "recomputations_per_expiry",
                           "Recomputations of a hot key per expiry (1 is single-flight).",
                           sla="recomputations_per_expiry"), 8, 8),
        (measurement_panel("Stampede prevention", "stampede_prevention_ratio",
                           "1 - (recomputations - 1) / (readers - 1), averaged over keys.",
                           sla="stampede_prevention_ratio"), 8, 8),
        (measurement_panel("Recompute lock acquire p99", "lock_acquire_seconds",
                           "Miss to lock granted, over the readers that recomputed.",
                           sla="lock_acquire_seconds"), 8, 8),
        (measurement_panel("Computation efficiency", "computation_efficiency_ratio",
                           "Computations whose value reached the readers / all computations.",
                           sla="computation_efficiency_ratio"), 12, 8),
        (measurement_panel("Reader wait p99 and lock takeover",
                           ["reader_wait_seconds", "takeover_seconds"],
                           "Miss to value in hand (p99), and a dead holder's lock taken over "
                           "by a reader."), 12, 8),
    ]
    return dashboard(
        "redis-chaosd-locks-stampede", "redis-chaosd / Locks and stampedes",
        "The lock probe (contention, fencing safety, deadlocks, lease expiry) and the stampede "
        "probe (single-flight recomputation of a hot key).",
        [INSTANCE, TARGET, probe_variable(types)], items)


def cache():
    types = ["invalidation", "eviction", "warming", "collision", "serialization"]
    items = [
        (probe_runs_panel(types), 24, 6),
        (row("invalidation: CLIENT TRACKING cascades (subject = scenario)"), 24, 1),
        (measurement_panel("Propagation p99", "propagation_seconds",
                           "Root write to each service's invalidation received.",
                           sla="propagation_seconds"), 6, 8),
        (measurement_panel("Propagation ratio", "propagation_ratio",
                           "Invalidations received within max_wait.",
                           sla="propagation_ratio"), 6, 8),
        (measurement_panel("Stale reads", "stale_reads_total",
                           "Reads that did not return the new value (must be 0).",
                           sla="stale_reads_total"), 6, 8),
        (measurement_panel("Background load", "load_ops_per_second",
                           "SET+GET per second of the concurrent scenario's load."), 6, 8),
        (row("eviction: memory pressure and LRU"), 24, 1),
        (measurement_panel("Latency under eviction p99", "eviction_latency_seconds",
                           "SETs and GETs sent while the node was evicting.",
                           sla="eviction_latency_seconds"), 6, 8),
        (measurement_panel("Hot set survival", "hot_set_survival_ratio",
                           "Hot keys still present after the pressure.",
                           sla="hot_set_survival_ratio"), 6, 8),
        (measurement_panel("Eviction efficiency", "eviction_efficiency_ratio",
                           "Share of hot-key evictions a blind policy would have made and this "
                           "one avoided.", sla="eviction_efficiency_ratio"), 6, 8),
        (measurement_panel("Hit rate recovery", "hit_rate_recovery_ratio",
                           "Hot-set hit rate after the re-warm / before the pressure.",
                           sla="hit_rate_recovery_ratio"), 6, 8),
        (measurement_panel("Keys evicted per run", "evicted_keys_total",
                           "Growth of INFO evicted_keys over the run (anyone's keys)."), 24, 6),
        (row("warming: strategies (subject = strategy)"), 24, 1),
        (measurement_panel("Time to warm", "warm_time_seconds",
                           "Time to write the warm_keys keys.", sla="warm_time_seconds"), 6, 8),
        (measurement_panel("Hit rate after warming", "hit_rate_ratio",
                           "Replayed reads that hit.", sla="hit_rate_ratio"), 6, 8),
        (measurement_panel("Warming efficiency", "warming_efficiency_ratio",
                           "Warmed keys read at least once in the replay.",
                           sla="warming_efficiency_ratio"), 6, 8),
        (measurement_panel("Cold vs warm read", ["cold_read_seconds", "warm_read_seconds"],
                           "Median cold read (cache miss and source fetch) and warm read."),
         6, 8),
        (row("collision: cross-tenant writes and hashed-key collisions"), 24, 1),
        (measurement_panel("Collision detection", "collision_detection_seconds",
                           "Worst time from an intrusion to its rejection.",
                           sla="collision_detection_seconds"), 6, 8),
        (measurement_panel("Collision resolution", "collision_resolution_ratio",
                           "Intrusions rejected / intrusions.", sla="collision_resolution_ratio"),
         6, 8),
        (measurement_panel("Value integrity", "value_integrity_ratio",
                           "Keys holding their owner's last value intact.",
                           sla="value_integrity_ratio"), 6, 8),
        (measurement_panel("Collisions detected per run", "collisions_total",
                           "Intrusions detected."), 6, 8),
        (row("serialization: codecs vs raw bytes (subject = format/size)"), 24, 1),
        (measurement_panel("Codec overhead", "codec_overhead_ratio",
                           "Encode + decode time / the raw round trips of the same bytes.",
                           sla="codec_overhead_ratio"), 8, 8),
        (measurement_panel("Throughput", "throughput_per_second",
                           "Operations per second per format and size.",
                           sla="throughput_per_second"), 8, 8),
        (measurement_panel("Round trip p99", "roundtrip_p99_seconds",
                           "Batch start to this operation's value decoded.",
                           sla="roundtrip_p99_seconds"), 8, 8),
        (measurement_panel("Round-trip integrity", "roundtrip_integrity_ratio",
                           "Values that came back equal to what was written.",
                           sla="roundtrip_integrity_ratio"), 12, 7),
        (measurement_panel("Encoded size", "encoded_bytes",
                           "Mean value size per format and size."), 12, 7),
    ]
    return dashboard(
        "redis-chaosd-cache", "redis-chaosd / Cache behaviour",
        "Cache probes: invalidation cascades, eviction under memory pressure, warming "
        "strategies, key collisions across tenants, serialization codecs.",
        [INSTANCE, TARGET, probe_variable(types)], items)


def cluster_durability():
    types = ["reshard", "durability"]
    items = [
        (probe_runs_panel(types), 24, 5),
        (row("reshard: a slot moved while writes go on"), 24, 1),
        (measurement_panel("Longest unavailability", "unavailability_seconds",
                           "Longest time without a successful operation during the move.",
                           sla="unavailability_seconds"), 6, 8),
        (measurement_panel("Acked writes readable", "acked_readable_ratio",
                           "Acknowledged writes that read back after the move.",
                           sla="acked_readable_ratio"), 6, 8),
        (measurement_panel("Throughput degradation", "throughput_degradation_ratio",
                           "1 - ops/s during the move / baseline ops/s.",
                           sla="throughput_degradation_ratio"), 6, 8),
        (measurement_panel("Slot moves per run", "slots_moved_total",
                           "Moves made (2: out and back), or owner changes seen."), 6, 8),
        (row("durability: lost and phantom writes (subject = replica)"), 24, 1),
        (measurement_panel("Lost writes", "lost_writes_total",
                           "Acknowledged writes missing at read-back (must be 0).",
                           sla="lost_writes_total"), 8, 8),
        (measurement_panel("Lost write ratio", "lost_write_ratio",
                           "Lost writes / acknowledged writes."), 8, 8),
        (measurement_panel("Phantom writes", "phantom_writes_total",
                           "Unacknowledged writes present at read-back."), 8, 8),
        (measurement_panel("Writes per run", ["acked_writes_total", "unacked_writes_total"],
                           "Writes acknowledged with +OK, and sent without one."), 24, 7),
    ]
    return dashboard(
        "redis-chaosd-cluster-durability", "redis-chaosd / Resharding and durability",
        "The reshard probe (availability, acknowledged writes and throughput while a cluster "
        "slot moves) and the durability probe (lost and phantom writes, per replica).",
        [INSTANCE, TARGET, probe_variable(types)], items)
