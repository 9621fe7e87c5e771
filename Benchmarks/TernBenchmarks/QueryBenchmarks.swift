import Benchmark
import EventStorage
import Foundation
import NostrCore
import NostrStore

/// limit-50 queries over a large store. The store size is TERN_BENCH_STORE_EVENTS (default
/// 1,000,000); it is built once, before the first query benchmark runs.
final class LargeStore: @unchecked Sendable {
    static let shared = LargeStore()
    private let lock = NSLock()
    private var built: (EventStore, String)?

    var count: Int { Int(ProcessInfo.processInfo.environment["TERN_BENCH_STORE_EVENTS"] ?? "") ?? 1_000_000 }

    func store() -> EventStore {
        lock.withLock {
            if let built { return built.0 }
            let (store, writer, path) = try! Fixtures.temporaryStore()
            LargeStore.path = path
            atexit { LargeStore.removeFiles() }
            let total = count
            var written = 0
            while written < total {
                let n = min(100_000, total - written)
                let events = Fixtures.storeEvents(count: n, seed: UInt64(written + 7))
                Fixtures.write(events[...], writer)
                written += n
            }
            writer.shutdown()
            built = (store, path)
            return store
        }
    }

    /// Where the store lives, so that it is removed when the benchmark process exits.
    nonisolated(unsafe) static var path: String?

    static func removeFiles() {
        if let path { try? FileManager.default.removeItem(atPath: path) }
    }
}

func queryBenchmarks() {
    let shapes: [(String, Filter)] = [
        ("author", Filter(authors: [Fixtures.authors[3]], limit: 50)),
        ("kind", Filter(kinds: [7], limit: 50)),
        ("tag", Filter(tags: [.init(name: UInt8(ascii: "t"), values: ["swift"])], limit: 50)),
    ]
    for (name, filter) in shapes {
        Benchmark(
            "limit50_query_by_\(name)_over_large_store",
            configuration: .init(warmupIterations: 10, maxDuration: .seconds(1), maxIterations: 20_000)
        ) { benchmark in
            let store = LargeStore.shared.store()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let found = try! store.fetch([filter], defaultLimit: 50, now: 1_700_000_000)
                precondition(found.count == 50)
                blackHole(found)
            }
            benchmark.stopMeasurement()
        }
    }
}
