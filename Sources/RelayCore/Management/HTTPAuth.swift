import NostrCore

/// NIP-98 HTTP authorization, as NIP-86 requires it: an `Authorization: Nostr <base64 event>`
/// header carrying a signed kind 27235 event whose `u` tag names this relay, whose `method` tag
/// is the request's method, whose `payload` tag is the SHA-256 of the body, and whose
/// `created_at` is within `window` seconds of now. Any failure is a 401 with its reason.
public struct HTTPAuth: Sendable {
    public static let kind: UInt16 = 27235
    public let relayURL: String
    public let window: Int64
    let validation: ValidationService

    public init(relayURL: String, window: Int64 = 60, validation: ValidationService) {
        self.relayURL = relayURL
        self.window = window
        self.validation = validation
    }

    /// The request as the relay saw it.
    public struct Request: Sendable {
        public var method: String
        /// The `Host` header, to check the `u` tag when the relay has no configured URL.
        public var host: String?
        public var authorization: String?
        public var body: [UInt8]

        public init(method: String, host: String?, authorization: String?, body: [UInt8]) {
            self.method = method
            self.host = host
            self.authorization = authorization
            self.body = body
        }
    }

    /// The pubkey that signed a valid authorization, or why it is not one.
    public func verify(_ request: Request, now: Int64) -> Result<Bytes32, Rejection> {
        guard let header = request.authorization else { return .failure(.authRequired("no Authorization header")) }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "nostr" else {
            return .failure(.authRequired("the Authorization scheme must be Nostr"))
        }
        guard let json = Base64.decode(parts[1].trimmingSpaces), let event = Event.decode(json: json) else {
            return .failure(.authRequired("the Authorization header does not hold a base64 event"))
        }
        var scratch: [UInt8] = []
        if let rejection = validation.verifyIdentity(event, scratch: &scratch) {
            return .failure(.authRequired(rejection.detail))
        }
        guard event.kind == Self.kind else { return .failure(.authRequired("the event must be of kind 27235")) }
        guard abs(event.createdAt - now) <= window else {
            return .failure(.authRequired("the event's created_at is more than \(window) seconds from now"))
        }
        guard let u = event.firstValue(ofTag: "u"), namesThisRelay(u, host: request.host) else {
            return .failure(.authRequired("the u tag does not name this relay"))
        }
        guard event.firstValue(ofTag: "method")?.uppercased() == request.method.uppercased() else {
            return .failure(.authRequired("the method tag does not match the request"))
        }
        let digest = EventID.sha256(request.body).hex
        guard event.firstValue(ofTag: "payload")?.lowercased() == digest else {
            return .failure(.authRequired("the payload tag is not the SHA-256 of the body"))
        }
        return .success(event.pubkey)
    }

    /// The `u` tag names this relay: its configured URL's host (any scheme: ws, wss, http,
    /// https), or, with none configured, the request's `Host`.
    func namesThisRelay(_ u: String, host: String?) -> Bool {
        if !relayURL.isEmpty { return AuthorizationService.sameRelay(u, relayURL) }
        guard let host else { return false }
        return AuthorizationService.hostPart(u) == host.lowercased()
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
