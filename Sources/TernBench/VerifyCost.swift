import Dispatch
import NostrCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The CPU cost of one BIP-340 verification on this machine, now: the unit the benchmarks
/// state CPU figures in, since it moves with the machine as they do (`tern bench verify`).
public enum VerifyCost {
    /// Microseconds of a thread's CPU per `Schnorr.verify`, the median of 5 rounds over `count`
    /// benchmark events. With `parallel` above 1, that many threads verify at once (as a
    /// tool that uses every core does) and the median is over all their rounds: on machines
    /// whose cores share caches or clocks, a verification costs more when every core verifies.
    public static func measure(count: Int = 4000, parallel: Int = 1) -> Double {
        let factory = EventFactory(authors: 50, seed: 99, runTag: "verify")
        let events = (0..<count).compactMap { i -> Event? in
            let message = factory.make(index: i, createdAt: 1_700_000_000 + Int64(i)).message
            return Event.decode(json: Array(message[9..<(message.count - 1)]))
        }
        let rounds = Mutex<[Double]>([])
        DispatchQueue.concurrentPerform(iterations: max(1, parallel)) { _ in
            for _ in 0..<5 {
                let start = threadCPU()
                var ok = 0
                for event in events where Schnorr.verify(event) { ok += 1 }
                precondition(ok == events.count, "benchmark events verify")
                let micros = (threadCPU() - start) / Double(events.count) * 1e6
                rounds.withLock { $0.append(micros) }
            }
        }
        let all = rounds.withLock { $0.sorted() }
        return all[all.count / 2]
    }

    static func threadCPU() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
