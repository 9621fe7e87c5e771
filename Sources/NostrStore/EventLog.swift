#if canImport(Glibc)
    import Glibc
#endif

/// An append-only log of records in segment files under one folder, each named after the number
/// of its first record (`00000000000000000001.log`, twenty digits, so names sort in order).
/// `append` writes a batch of records with one `write` and makes it durable with one
/// `fdatasync` before it returns: what it returned for survives a power cut. Opening finds the
/// end of the last segment; a record cut short or torn by a crash (`LogFormat.scan`) is cut off
/// there, and only a record that `append` never returned for can be lost that way.
/// Not thread-safe: one writer owns it.
public final class EventLog {
    public let directory: String
    /// A segment past this many bytes is closed and the next append starts a new one.
    public let segmentLimit: Int
    /// The number the next record gets (records are numbered from 1, across segments).
    public private(set) var next: UInt64
    /// The current segment: its first record's number, its descriptor and its size.
    private var segmentFirst: UInt64
    private var fd: Int32
    private var size: Int

    /// Opens the log in `directory` (made if missing); an empty log numbers its records from
    /// `first`. `repaired` hears of a torn tail cut off.
    public init(
        directory: String, first: UInt64 = 1, segmentLimit: Int = 64 << 20, repaired: (String) -> Void = { _ in }
    ) throws {
        self.directory = directory
        self.segmentLimit = segmentLimit
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw LogError("cannot make \(directory)", errno) }
        let segments = try Self.segments(in: directory)
        guard let last = segments.last else {
            (segmentFirst, next, fd, size) = (first, first, -1, 0)
            try startSegment(first: first)
            return
        }
        let path = Self.path(directory, last)
        let bytes = try Self.contents(path)
        let scan = LogFormat.scan(bytes)
        if scan.problem == .badHeader && bytes.count < LogFormat.header.count {
            // A segment whose header never reached the disk holds nothing.
            guard unlink(path) == 0 else { throw LogError("cannot remove \(path)", errno) }
            (segmentFirst, next, fd, size) = (last, last, -1, 0)
            try startSegment(first: last)
            return
        }
        if scan.problem == .badHeader { throw LogError("\(path) is not a tern log segment", 0) }
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw LogError("cannot open \(path)", errno) }
        if let problem = scan.problem {
            guard ftruncate(fd, off_t(scan.end)) == 0, fdatasync(fd) == 0 else {
                let code = errno
                close(fd)
                throw LogError("cannot cut the torn tail of \(path)", code)
            }
            repaired("\(path): \(problem); cut at byte \(scan.end) (\(bytes.count - scan.end) bytes dropped)")
        }
        segmentFirst = last
        next = last + UInt64(scan.payloads.count)
        size = scan.end
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends `payloads` as records numbered from `next`, durably; returns the first's number.
    /// On failure (a full disk) nothing of the batch remains in the log.
    @discardableResult
    public func append(_ payloads: [[UInt8]]) throws -> UInt64 {
        if size >= segmentLimit { try startSegment(first: next) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(payloads.reduce(0) { $0 + $1.count + LogFormat.recordHeaderSize })
        for payload in payloads { LogFormat.appendRecord(payload, to: &bytes) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let code = errno
                _ = ftruncate(fd, off_t(size))  // no partial record for the next append to follow
                throw LogError("cannot append to the log", code)
            }
            written += n
        }
        guard fdatasync(fd) == 0 else {
            let code = errno
            _ = ftruncate(fd, off_t(size))
            throw LogError("cannot sync the log", code)
        }
        size += bytes.count
        let first = next
        next += UInt64(payloads.count)
        return first
    }

    /// Every record numbered `from` or later, in order, with its number.
    public func replay(from: UInt64 = 1, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Void) throws {
        let segments = try Self.segments(in: directory)
        for (i, first) in segments.enumerated() {
            if i + 1 < segments.count && segments[i + 1] <= from { continue }  // all before `from`
            let path = Self.path(directory, first)
            let bytes = try Self.contents(path)
            let scan = LogFormat.scan(bytes)
            // Only the open segment can end torn, and it was cut at opening.
            if let problem = scan.problem { throw LogError("\(path): \(problem)", 0) }
            try bytes.withUnsafeBytes { all in
                for (k, range) in scan.payloads.enumerated() where first + UInt64(k) >= from {
                    try body(first + UInt64(k), UnsafeRawBufferPointer(rebasing: all[range]))
                }
            }
        }
    }

    /// Removes the segments whose records all come before `number` (a checkpoint holds them).
    /// The open segment stays.
    public func removeSegments(before number: UInt64) throws {
        try Self.removeSegments(in: directory, before: number)
    }

    /// Removes the segments of the log in `directory` whose records all come before `number`,
    /// never the last one (the writer's open segment); calls `each` before each removal. Safe
    /// beside the log's writer: a segment is only removed once a later one exists, and the
    /// later one's first number says where the earlier one's records end.
    public static func removeSegments(
        in directory: String, before number: UInt64, each: () throws -> Void = {}
    ) throws {
        let segments = try segments(in: directory)
        var removed = false
        for (i, first) in segments.enumerated() where i + 1 < segments.count {
            guard segments[i + 1] <= number else { break }
            try each()
            let path = path(directory, first)
            guard unlink(path) == 0 || errno == ENOENT else { throw LogError("cannot remove \(path)", errno) }
            removed = true
        }
        if removed { try syncDirectory(directory) }
    }

    /// The number of the last whole record of the log in `directory` (0 when it has none); read
    /// beside the log's writer, a record being appended is not counted.
    public static func lastRecord(in directory: String) throws -> UInt64 {
        guard let last = try segments(in: directory).last else { return 0 }
        let scan = LogFormat.scan(try contents(path(directory, last)))
        return last + UInt64(scan.payloads.count) - 1
    }

    /// Closes the current segment and starts one whose first record will be `first`.
    private func startSegment(first: UInt64) throws {
        let path = Self.path(directory, first)
        let created = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        guard created >= 0 else { throw LogError("cannot create \(path)", errno) }
        let ok =
            LogFormat.header.withUnsafeBytes { write(created, $0.baseAddress!, $0.count) } == LogFormat.header.count
        guard ok, fdatasync(created) == 0 else {
            let code = errno
            close(created)
            unlink(path)
            throw LogError("cannot start \(path)", code)
        }
        try Self.syncDirectory(directory)
        if fd >= 0 { close(fd) }
        (fd, segmentFirst, size) = (created, first, LogFormat.header.count)
    }

    // MARK: files

    static func path(_ directory: String, _ first: UInt64) -> String {
        let digits = String(first)
        return directory + "/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    /// The first record numbers of the segments in `directory`, in order.
    static func segments(in directory: String) throws -> [UInt64] {
        guard let dir = opendir(directory) else { throw LogError("cannot list \(directory)", errno) }
        defer { closedir(dir) }
        var found: [UInt64] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.count == 24, name.hasSuffix(".log"), let first = UInt64(name.prefix(20)), first > 0 else {
                continue
            }
            found.append(first)
        }
        return found.sorted()
    }

    static func contents(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LogError("cannot open \(path)", errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw LogError("cannot read \(path)", errno) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var got = 0
        while got < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            got += n
        }
        return Array(bytes[0..<got])
    }

    static func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LogError("cannot open \(directory)", errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw LogError("cannot sync \(directory)", errno) }
    }
}

/// A log operation that failed, with the system's reason.
public struct LogError: Error, CustomStringConvertible {
    public let description: String
    /// The system's error number (0 when the log's own check failed).
    public let code: Int32

    init(_ what: String, _ code: Int32) {
        self.code = code
        description = code == 0 ? what : "\(what): \(String(cString: strerror(code)))"
    }
}
