import EventStorage
import Logging
import NostrCore

/// NIP-86 relay management: JSON-RPC over HTTP, authorized by NIP-98 and only for admins. A
/// change applies to new events at once (a new policy snapshot), then is kept in the store by
/// the writer's thread before the answer goes out; a banned event is deleted there too.
public final class ManagementService: Sendable {
    let authorization: AuthorizationService
    let writer: EventWriter
    let httpAuth: HTTPAuth
    let clock: UnixClock
    let logger: Logger

    /// Every method answered, as `supportedmethods` lists them.
    public static let methods = [
        "supportedmethods", "banpubkey", "unbanpubkey", "listbannedpubkeys", "allowpubkey", "unallowpubkey",
        "listallowedpubkeys", "banevent", "allowevent", "listbannedevents", "allowkind", "disallowkind",
        "listallowedkinds", "listdisallowedkinds", "blockip", "unblockip", "listblockedips", "changerelayname",
        "changerelaydescription", "changerelayicon",
    ]

    /// The largest request body read.
    public static let maxBody = 65_536

    public struct Response: Sendable, Equatable {
        public let status: Int
        public let body: [UInt8]

        static func result(_ value: JSONValue) -> Response {
            Response(status: 200, body: JSONValue.object([("result", value)]).bytes)
        }

        static func error(_ status: Int, _ message: String) -> Response {
            Response(status: status, body: JSONValue.object([("result", .null), ("error", .string(message))]).bytes)
        }
    }

    public init(
        authorization: AuthorizationService, writer: EventWriter, httpAuth: HTTPAuth, clock: @escaping UnixClock,
        logger: Logger
    ) {
        self.authorization = authorization
        self.writer = writer
        self.httpAuth = httpAuth
        self.clock = clock
        self.logger = logger
    }

    /// Answers one request; `completion` is called once, on this thread or the writer's.
    public func handle(_ request: HTTPAuth.Request, completion: @escaping @Sendable (Response) -> Void) {
        let admin: Bytes32
        switch httpAuth.verify(request, now: clock()) {
        case .failure(let why): return completion(.error(401, why.message))
        case .success(let pubkey): admin = pubkey
        }
        guard authorization.snapshot.policy.admins.contains(admin) else {
            return completion(.error(401, "restricted: \(admin.hex) is not an admin of this relay"))
        }
        let method: String
        let params: [JSONValue]
        do {
            let body = try JSONValue.parse(request.body)
            guard let m = body["method"]?.string else { return completion(.error(400, "invalid: no method")) }
            method = m
            params = body["params"]?.array ?? []
        } catch {
            return completion(.error(400, "invalid: the body is not JSON: \(error)"))
        }
        switch call(method, params) {
        case .failure(let why):
            completion(.error(400, why.message))
        case .success(.answer(let value)):
            completion(.result(value))
        case .success(.changed(let removing)):
            logger.info("management change", metadata: ["method": "\(method)", "admin": "\(admin.hex)"])
            persist(removing: removing, completion: completion)
        }
    }

    enum Outcome {
        /// A read: the result.
        case answer(JSONValue)
        /// A change made: keep the lists, and delete these events.
        case changed(removing: [Bytes32])
    }

    /// Runs one method against the lists.
    func call(_ method: String, _ params: [JSONValue]) -> Result<Outcome, Rejection> {
        let snapshot = authorization.snapshot
        let lists = snapshot.lists
        let policy = snapshot.policy
        func change(_ body: (inout AccessLists) -> Void) -> Result<Outcome, Rejection> {
            authorization.updateLists(body)
            return .success(.changed(removing: []))
        }
        func reason(_ i: Int) -> String { params.count > i ? params[i].string ?? "" : "" }
        func keys(_ map: [Bytes32: String], configured: [Bytes32], _ name: String) -> JSONValue {
            var all = map
            for key in configured where all[key] == nil { all[key] = "in the configuration file" }
            return .array(
                all.sorted { $0.key < $1.key }.map {
                    .object([(name, .string($0.key.hex)), ("reason", .string($0.value))])
                })
        }
        switch method {
        case "supportedmethods":
            return .success(.answer(.array(Self.methods.map { .string($0) })))
        case "banpubkey", "unbanpubkey", "allowpubkey", "unallowpubkey":
            guard let pubkey = params.first?.string.flatMap({ Bytes32(hex: Array($0.utf8)) }) else {
                return .failure(.invalid("\(method) takes a 64-character hex pubkey"))
            }
            return change { lists in
                switch method {
                case "banpubkey": lists.banPubkey(pubkey, reason: reason(1))
                case "unbanpubkey": lists.bannedPubkeys[pubkey] = nil
                case "allowpubkey": lists.allowPubkey(pubkey, reason: reason(1))
                default: lists.allowedPubkeys[pubkey] = nil
                }
            }
        case "listbannedpubkeys":
            return .success(.answer(keys(lists.bannedPubkeys, configured: policy.denyPubkeys, "pubkey")))
        case "listallowedpubkeys":
            return .success(.answer(keys(lists.allowedPubkeys, configured: policy.allowPubkeys, "pubkey")))
        case "banevent", "allowevent":
            guard let id = params.first?.string.flatMap({ Bytes32(hex: Array($0.utf8)) }) else {
                return .failure(.invalid("\(method) takes a 64-character hex event id"))
            }
            if method == "allowevent" { return change { $0.bannedEvents[id] = nil } }
            authorization.updateLists { $0.bannedEvents[id] = reason(1) }
            return .success(.changed(removing: [id]))
        case "listbannedevents":
            return .success(.answer(keys(lists.bannedEvents, configured: [], "id")))
        case "allowkind", "disallowkind":
            guard let n = params.first?.integer ?? params.first?.string.flatMap({ Int64($0) }),
                let kind = UInt16(exactly: n)
            else { return .failure(.invalid("\(method) takes a kind number from 0 to 65535")) }
            return change { method == "allowkind" ? $0.allowKind(kind) : $0.disallowKind(kind) }
        case "listallowedkinds":
            let kinds = lists.allowedKinds.union(policy.allowKinds).sorted()
            return .success(.answer(.array(kinds.map { .integer(Int64($0)) })))
        case "listdisallowedkinds":
            let kinds = lists.disallowedKinds.union(policy.denyKinds).subtracting(lists.allowedKinds).sorted()
            return .success(.answer(.array(kinds.map { .integer(Int64($0)) })))
        case "blockip", "unblockip":
            guard let ip = params.first?.string, Self.looksLikeIP(ip) else {
                return .failure(.invalid("\(method) takes an IPv4 or IPv6 address"))
            }
            return change { $0.blockedIPs[ip] = method == "blockip" ? reason(1) : nil }
        case "listblockedips":
            return .success(
                .answer(
                    .array(
                        lists.blockedIPs.sorted { $0.key < $1.key }.map {
                            .object([("ip", .string($0.key)), ("reason", .string($0.value))])
                        })))
        case "changerelayname", "changerelaydescription", "changerelayicon":
            guard let text = params.first?.string, text.utf8.count <= 4096 else {
                return .failure(.invalid("\(method) takes one string of at most 4096 bytes"))
            }
            return change { lists in
                switch method {
                case "changerelayname": lists.name = text
                case "changerelaydescription": lists.description = text
                default: lists.icon = text
                }
            }
        default:
            return .failure(.unsupported("method \(method) is not supported; see supportedmethods"))
        }
    }

    /// Keeps the current lists in the store (and deletes `removing`) on the writer's thread, then
    /// answers.
    private func persist(removing: [Bytes32], completion: @escaping @Sendable (Response) -> Void) {
        let authorization = authorization
        let logger = logger
        let queued = writer.perform { storage in
            do {
                if !removing.isEmpty { _ = try storage.remove(ids: removing) }
                try storage.setSetting(AccessLists.settingKey, authorization.snapshot.lists.json.bytes)
                completion(.result(.bool(true)))
            } catch {
                logger.error("cannot store a management change", metadata: ["error": "\(error)"])
                completion(.error(500, "error: the change applies but could not be stored: \(error)"))
            }
        }
        if !queued { completion(.error(503, "rate-limited: the relay is busy, try again shortly")) }
    }

    /// Digits, hex letters, dots and colons, as an IPv4 or IPv6 address has.
    static func looksLikeIP(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 45
            && text.utf8.allSatisfy { c in
                Hex.lowerNibble(c) != nil || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
                    || c == UInt8(ascii: ".")
                    || c == UInt8(ascii: ":")
            } && (text.contains(".") || text.contains(":"))
    }

    /// Reads the lists the store keeps (at start).
    public static func loadLists(from storage: any EventStorage) throws -> AccessLists? {
        guard let bytes = try storage.setting(AccessLists.settingKey) else { return nil }
        guard let lists = AccessLists(json: try JSONValue.parse(bytes)) else { throw StoredListsUnreadable() }
        return lists
    }
}

/// The stored NIP-86 lists are not what this version writes.
public struct StoredListsUnreadable: Error, CustomStringConvertible {
    public var description: String { "the stored NIP-86 lists cannot be read" }
}
