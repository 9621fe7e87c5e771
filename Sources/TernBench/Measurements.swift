import NostrCore
import NostrTools

#if canImport(Glibc)
    import Glibc
#endif

/// Monotonic nanoseconds.
@inline(__always)
func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Latency samples in nanoseconds, summarised as percentiles in milliseconds.
struct Latencies: Sendable {
    var samples: [UInt64] = []

    mutating func add(_ ns: UInt64) { samples.append(ns) }
    mutating func merge(_ other: Latencies) { samples.append(contentsOf: other.samples) }

    struct Summary: Sendable {
        let count: Int
        let p50: Double
        let p90: Double
        let p99: Double
        let max: Double
    }

    func summary() -> Summary {
        guard !samples.isEmpty else { return Summary(count: 0, p50: 0, p90: 0, p99: 0, max: 0) }
        let sorted = samples.sorted()
        func at(_ q: Double) -> Double {
            Double(sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)]) / 1e6
        }
        return Summary(
            count: sorted.count, p50: at(0.50), p90: at(0.90), p99: at(0.99), max: Double(sorted.last!) / 1e6)
    }
}

/// CPU seconds used by this process so far.
func ownCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

/// CPU seconds and memory of another process (the relay), from /proc.
public struct ProcessSample: Sendable {
    public let cpuSeconds: Double
    public let rssKB: Int
    public let peakRSSKB: Int
    /// Heap and stacks: memory the relay itself holds.
    public let anonymousKB: Int
    /// File-backed pages mapped in (LMDB's map): page cache the kernel can reclaim.
    public let fileKB: Int

    public static func read(pid: Int32) -> ProcessSample? {
        guard let stat = readText("/proc/\(pid)/stat"), let status = readText("/proc/\(pid)/status") else { return nil }
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        func kb(_ key: String) -> Int {
            for line in status.split(separator: "\n") where line.hasPrefix(key) {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
            }
            return 0
        }
        return ProcessSample(
            cpuSeconds: (utime + stime) / ticks, rssKB: kb("VmRSS:"), peakRSSKB: kb("VmHWM:"),
            anonymousKB: kb("RssAnon:"), fileKB: kb("RssFile:"))
    }

    static func readText(_ path: String) -> String? {
        LocalFile.read(path).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Sectors the kernel wrote to a block device, from `/sys/block/DEV/stat` (its seventh field,
/// in 512-byte units whatever the device's own sector size), after a `sync` so that what the
/// relay left in the page cache is counted.
public enum DiskWrites {
    /// Bytes written to `device` so far (since boot), or nil when there is no such device.
    public static func bytes(device: String) -> UInt64? {
        guard device.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), !device.isEmpty,
            let text = ProcessSample.readText("/sys/block/\(device)/stat")
        else { return nil }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count > 6, let sectors = UInt64(fields[6]) else { return nil }
        return sectors * 512
    }

    /// `sync`, then `bytes(device:)`.
    public static func synced(device: String) -> UInt64? {
        sync()
        return bytes(device: device)
    }
}
