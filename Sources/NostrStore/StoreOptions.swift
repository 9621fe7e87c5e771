/// How the LMDB store is opened.
public struct StoreOptions: Sendable {
    public var mapSize: Int
    /// Read transactions open at once: each reader thread's, plus each query paused between
    /// slices (it keeps its snapshot).
    public var maxReaders: UInt32
    /// The largest number of index entries one filter may walk before its answer is cut short.
    public var maxScanPerFilter: Int
    /// Writes go to the event log first and into LMDB at checkpoints (the relay's way); nil:
    /// each batch is one synced LMDB transaction (tools beside a running relay, tests of LMDB
    /// alone).
    public var log: LogOptions?

    public init(
        mapSize: Int = 8 << 30, maxReaders: UInt32 = 512, maxScanPerFilter: Int = 200_000, log: LogOptions? = nil
    ) {
        self.mapSize = mapSize
        self.maxReaders = maxReaders
        self.maxScanPerFilter = maxScanPerFilter
        self.log = log
    }
}

/// When the event log's tail goes into LMDB.
public struct LogOptions: Sendable {
    /// A checkpoint starts once the tail's oldest write is this old...
    public var checkpointSeconds: Double
    /// ...or once it holds this many bytes of events' JSON.
    public var checkpointBytes: Int
    /// The tail never holds more than this many bytes of JSON: past it, the writer waits for
    /// the running checkpoint (back-pressure; the writer's inbox fills, then new EVENTs are
    /// refused with `rate-limited:`).
    public var maxTailBytes: Int
    /// A checkpoint's LMDB transactions hold about this many events each (LMDB keeps the memory
    /// of the largest transaction's dirty pages: this bounds it).
    public var checkpointChunkEvents: Int
    /// A log segment past this many bytes is closed and a new one begun; a checkpoint removes
    /// the closed segments it holds.
    public var segmentBytes: Int
    /// Crash points for tests (nil in the relay).
    public var faults: StoreFaults?

    public init(
        checkpointSeconds: Double = 5, checkpointBytes: Int = 4 << 20, maxTailBytes: Int = 12 << 20,
        checkpointChunkEvents: Int = 2048, segmentBytes: Int = 64 << 20, faults: StoreFaults? = nil
    ) {
        self.checkpointChunkEvents = max(1, checkpointChunkEvents)
        self.checkpointSeconds = checkpointSeconds
        self.checkpointBytes = checkpointBytes
        self.maxTailBytes = max(maxTailBytes, checkpointBytes)
        self.segmentBytes = segmentBytes
        self.faults = faults
    }
}

/// Where a test may stop the store as a crash would: from that point on, it writes nothing more
/// to disk (no log append, no checkpoint, no removed segment) and fails every write, so what a
/// new store then opens is what a crash at that point would have left.
public enum FaultPoint: Sendable, Equatable {
    /// A batch's log record is durable, its writes not yet answered.
    case afterAppend
    /// Half of a checkpoint's writes are applied in its LMDB transaction (aborted).
    case midCheckpoint
    /// A checkpoint is committed to LMDB, before any log segment is removed.
    case afterCheckpoint
    /// Between the removal of two log segments.
    case duringTruncation
}

/// Decides, at each fault point, whether the store "crashes" there (tests only).
public final class StoreFaults: @unchecked Sendable {
    private let decide: @Sendable (FaultPoint) -> Bool

    public init(_ decide: @escaping @Sendable (FaultPoint) -> Bool) { self.decide = decide }

    func crashes(at point: FaultPoint) -> Bool { decide(point) }
}
