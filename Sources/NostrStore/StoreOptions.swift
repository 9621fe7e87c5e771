/// How the LMDB store is opened.
public struct StoreOptions: Sendable {
    public var mapSize: Int
    /// Read transactions open at once: each reader thread's, plus each query paused between
    /// slices (it keeps its snapshot).
    public var maxReaders: UInt32
    /// The largest number of index entries one filter may walk before its answer is cut short.
    public var maxScanPerFilter: Int

    public init(mapSize: Int = 8 << 30, maxReaders: UInt32 = 512, maxScanPerFilter: Int = 200_000) {
        self.mapSize = mapSize
        self.maxReaders = maxReaders
        self.maxScanPerFilter = maxScanPerFilter
    }
}
