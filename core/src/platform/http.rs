//! HTTP/1.1 of the platform's web endpoints: the request head, and what
//! the wireserver (168.63.129.16:80) and the instance metadata service
//! (169.254.169.254:80) answer. One request per connection: every answer
//! says `Connection: close` and the endpoint closes after it.
//!
//! - **Wireserver**: `GET /?comp=versions` (what the Azure guest agent asks
//!   first) gets the versions document the real wireserver serves
//!   (`text/xml`); any other request gets 404 with an empty body (the other
//!   wireserver resources are the guest agent's business, not an app's).
//! - **IMDS**: requests without the header `Metadata: true` get 400 with
//!   Azure's body `{"error":"Bad request. Required metadata header not
//!   specified"}`; without `api-version` 400 too (Azure's message); `GET
//!   /metadata/instance` gets the instance document ([`instance_document`]),
//!   and a path below it (`/metadata/instance/network/interface/0/...`) the
//!   part it names, a leaf as plain text with `format=text`; anything else
//!   404 `{"error":"Not found"}`.
//!
//! A request line that is not `METHOD TARGET HTTP/1.x` gets 400 at once
//! (so does a head longer than [`MAX_HEAD`]).

use std::net::Ipv4Addr;

use serde_json::{json, Value};

/// The longest request head read; a longer one gets 400.
pub const MAX_HEAD: usize = 8192;

/// The wireserver's answer to `GET /?comp=versions`.
pub const WIRESERVER_VERSIONS: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Versions>\n  <Preferred>\n    <Version>2015-04-05</Version>\n  </Preferred>\n  <Supported>\n    <Version>2015-04-05</Version>\n    <Version>2012-11-30</Version>\n    <Version>2012-09-15</Version>\n    <Version>2012-05-15</Version>\n    <Version>2011-12-31</Version>\n    <Version>2011-10-15</Version>\n    <Version>2011-08-31</Version>\n    <Version>2011-04-07</Version>\n    <Version>2010-12-15</Version>\n    <Version>2010-28-10</Version>\n  </Supported>\n</Versions>\n";

/// IMDS's body for a request without `Metadata: true`.
pub const IMDS_NO_METADATA_HEADER: &str = r#"{"error":"Bad request. Required metadata header not specified"}"#;
/// IMDS's body for a request without `api-version`.
pub const IMDS_NO_API_VERSION: &str = r#"{"error":"Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds","newest-versions":["2023-07-01","2023-03-01","2023-01-01"]}"#;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'a str,
    /// As sent: path and query.
    pub target: &'a str,
    /// The header lines after the request line.
    headers: &'a str,
}

impl<'a> Request<'a> {
    /// The first header called `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.lines().filter_map(|l| l.split_once(':')).find(|(k, _)| k.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    }

    pub fn path(&self) -> &'a str {
        self.target.split_once('?').map_or(self.target, |(p, _)| p)
    }

    /// A query parameter's value (not percent-decoded; `""` for a bare key).
    pub fn query(&self, key: &str) -> Option<&'a str> {
        let (_, q) = self.target.split_once('?')?;
        q.split('&').map(|kv| kv.split_once('=').unwrap_or((kv, ""))).find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// What the bytes received so far are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head<'a> {
    /// More bytes are needed.
    Incomplete,
    /// Not an HTTP/1.x request (or too long a head): 400.
    Bad,
    Request(Request<'a>),
}

/// Parses the request head at the start of `buf`.
pub fn parse_head(buf: &[u8]) -> Head<'_> {
    let Some(eol) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > MAX_HEAD { Head::Bad } else { Head::Incomplete };
    };
    let Ok(line) = std::str::from_utf8(&buf[..eol]) else { return Head::Bad };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else { return Head::Bad };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) || !target.starts_with('/') || !version.starts_with("HTTP/1.") {
        return Head::Bad;
    }
    let rest = &buf[eol + 1..];
    let end = match find(rest, b"\r\n\r\n").or_else(|| find(rest, b"\n\n")) {
        Some(end) => end,
        // A request without header lines ends right after its request line.
        None if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") => 0,
        None if buf.len() > MAX_HEAD => return Head::Bad,
        None => return Head::Incomplete,
    };
    if eol + 1 + end > MAX_HEAD {
        return Head::Bad;
    }
    let Ok(headers) = std::str::from_utf8(&rest[..end]) else { return Head::Bad };
    Head::Request(Request { method, target, headers })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A complete response with `Connection: close` (no body for HEAD).
pub fn response(status: u16, content_type: &str, body: &str, head_only: bool) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    let ctype = if body.is_empty() { String::new() } else { format!("Content-Type: {content_type}\r\n") };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n{ctype}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// A 400 for what is not an HTTP request.
pub fn bad_request() -> Vec<u8> {
    response(400, "text/plain", "", false)
}

/// The wireserver's answer.
pub fn wireserver(req: &Request) -> Vec<u8> {
    let head_only = req.method == "HEAD";
    if matches!(req.method, "GET" | "HEAD") && req.path() == "/" && req.query("comp") == Some("versions") {
        return response(200, "text/xml; charset=utf-8", WIRESERVER_VERSIONS, head_only);
    }
    response(404, "text/plain", "", head_only)
}

/// The emulated instance, as IMDS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The site's name (for `--subnet`, the subnet's).
    pub name: String,
    /// The VNet's region.
    pub location: String,
    /// Known only when the input says so.
    pub resource_group: Option<String>,
    /// A stable identifier in the form of a VM id (derived from the name,
    /// subnet and address, so the same scenario always gets the same one).
    pub vm_id: String,
    pub private_ip: Ipv4Addr,
    pub subnet: ipnet::Ipv4Net,
}

impl Instance {
    /// The instance of a site with these facts; `vm_id` and the MAC
    /// address are derived from them.
    pub fn new(name: &str, location: &str, resource_group: Option<String>, private_ip: Ipv4Addr, subnet: ipnet::Ipv4Net) -> Instance {
        let h = fnv1a(format!("{name}|{subnet}|{private_ip}").as_bytes());
        let g = h.to_be_bytes();
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let vm_id = format!("{}-{}-{}-{}-{}", hex(&g[0..4]), hex(&g[4..6]), hex(&g[6..8]), hex(&g[8..10]), hex(&g[10..16]));
        Instance { name: name.into(), location: location.into(), resource_group, vm_id, private_ip, subnet }
    }

    fn mac(&self) -> String {
        let o = self.private_ip.octets();
        format!("000D3A{:02X}{:02X}{:02X}", o[1], o[2], o[3])
    }
}

/// 128-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u128 {
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013B;
    bytes.iter().fold(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

/// `GET /metadata/instance`: a small document shaped like Azure's.
pub fn instance_document(i: &Instance) -> Value {
    let mut compute = json!({
        "azEnvironment": "AzurePublicCloud",
        "location": i.location,
        "name": i.name,
        "osType": "Linux",
    });
    if let Some(rg) = &i.resource_group {
        compute["resourceGroupName"] = json!(rg);
    }
    compute["vmId"] = json!(i.vm_id);
    json!({
        "compute": compute,
        "network": {
            "interface": [{
                "ipv4": {
                    "ipAddress": [{ "privateIpAddress": i.private_ip.to_string(), "publicIpAddress": "" }],
                    "subnet": [{ "address": i.subnet.network().to_string(), "prefix": i.subnet.prefix_len().to_string() }]
                },
                "ipv6": { "ipAddress": [] },
                "macAddress": i.mac()
            }]
        }
    })
}

/// The metadata service's answer.
pub fn imds(req: &Request, instance: &Instance) -> Vec<u8> {
    const JSON: &str = "application/json; charset=utf-8";
    let head_only = req.method == "HEAD";
    if !req.header("Metadata").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return response(400, JSON, IMDS_NO_METADATA_HEADER, head_only);
    }
    if !matches!(req.method, "GET" | "HEAD") {
        return response(405, JSON, r#"{"error":"Method not allowed"}"#, head_only);
    }
    if req.query("api-version").is_none_or(str::is_empty) {
        return response(400, JSON, IMDS_NO_API_VERSION, head_only);
    }
    let not_found = || response(404, JSON, r#"{"error":"Not found"}"#, head_only);
    let Some(rest) = req.path().strip_prefix("/metadata/instance") else { return not_found() };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return not_found();
    }
    let doc = instance_document(instance);
    let mut at = &doc;
    for seg in rest.split('/').filter(|s| !s.is_empty()) {
        let next = match at {
            Value::Object(m) => m.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => return not_found(),
        }
    }
    match (req.query("format"), at) {
        (Some("text"), Value::String(s)) => response(200, "text/plain; charset=utf-8", s, head_only),
        _ => response(200, JSON, &at.to_string(), head_only),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Request<'_> {
        match parse_head(text.as_bytes()) {
            Head::Request(r) => r,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn instance() -> Instance {
        Instance::new("func-app", "westeurope", None, Ipv4Addr::new(10, 0, 2, 4), "10.0.2.0/24".parse().unwrap())
    }

    fn body(resp: &[u8]) -> (String, String) {
        let text = String::from_utf8(resp.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.lines().next().unwrap().to_string(), body.to_string())
    }

    #[test]
    fn heads_parse_incrementally_and_junk_is_bad_at_once() {
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n"), Head::Incomplete);
        assert_eq!(parse_head(b"GET /metad"), Head::Incomplete);
        assert_eq!(parse_head(b"vnetlab-probe\n"), Head::Bad);
        assert_eq!(parse_head(b"GET /x HTTP/2\r\n\r\n"), Head::Bad);
        assert_eq!(parse_head(&[b'G'; MAX_HEAD + 1]), Head::Bad);
        let r = req("GET /metadata/instance?api-version=2021-02-01&format=json HTTP/1.1\r\nHost: 169.254.169.254\r\nmetadata:  True \r\n\r\n");
        assert_eq!((r.method, r.path()), ("GET", "/metadata/instance"));
        assert_eq!((r.query("api-version"), r.query("format"), r.query("x")), (Some("2021-02-01"), Some("json"), None));
        assert_eq!(r.header("Metadata"), Some("True"));
        assert_eq!(req("GET / HTTP/1.0\n\n").header("Host"), None);
    }

    #[test]
    fn imds_needs_the_metadata_header() {
        let i = instance();
        let (status, b) = body(&imds(&req("GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\n\r\n"), &i));
        assert_eq!((status.as_str(), b.as_str()), ("HTTP/1.1 400 Bad Request", IMDS_NO_METADATA_HEADER));
        let (status, b) = body(&imds(&req("GET /metadata/instance HTTP/1.1\r\nMetadata: true\r\n\r\n"), &i));
        assert_eq!(status, "HTTP/1.1 400 Bad Request");
        assert!(b.contains("api-version was not specified"), "{b}");
    }

    #[test]
    fn imds_describes_the_instance_and_its_parts() {
        let i = instance();
        let (status, b) = body(&imds(&req("GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\nMetadata: true\r\n\r\n"), &i));
        assert_eq!(status, "HTTP/1.1 200 OK");
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["compute"]["name"], "func-app");
        assert_eq!(v["compute"]["location"], "westeurope");
        assert_eq!(v["compute"]["vmId"].as_str().map(str::len), Some(36));
        assert_eq!(v["network"]["interface"][0]["ipv4"]["ipAddress"][0]["privateIpAddress"], "10.0.2.4");
        assert_eq!(v["network"]["interface"][0]["ipv4"]["subnet"][0], json!({"address": "10.0.2.0", "prefix": "24"}));
        assert_eq!(instance().vm_id, i.vm_id, "stable");
        let leaf = "GET /metadata/instance/network/interface/0/ipv4/ipAddress/0/privateIpAddress?api-version=2021-02-01&format=text HTTP/1.1\r\nMetadata: true\r\n\r\n";
        assert_eq!(body(&imds(&req(leaf), &i)).1, "10.0.2.4");
        let missing = "GET /metadata/instance/compute/nope?api-version=2021-02-01 HTTP/1.1\r\nMetadata: true\r\n\r\n";
        assert_eq!(body(&imds(&req(missing), &i)).0, "HTTP/1.1 404 Not Found");
    }

    #[test]
    fn wireserver_serves_versions() {
        let (status, b) = body(&wireserver(&req("GET /?comp=versions HTTP/1.1\r\nHost: 168.63.129.16\r\n\r\n")));
        assert_eq!((status.as_str(), b.as_str()), ("HTTP/1.1 200 OK", WIRESERVER_VERSIONS));
        assert_eq!(body(&wireserver(&req("GET /machine?comp=goalstate HTTP/1.1\r\n\r\n"))).0, "HTTP/1.1 404 Not Found");
    }
}
