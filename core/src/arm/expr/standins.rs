//! Deterministic stand-ins for what Azure computes or supplies at deployment:
//! `uniqueString`, `guid`/`newGuid` (same inputs, same output, but not
//! Azure's output), the public cloud's `environment()` object, and the
//! text of runtime placeholders (`<runtime:NAME>`), which the model builder
//! recognises where it needs a concrete value.

use serde_json::Value;

fn hash64(data: &[u8], seed: u64) -> u64 {
    // FNV-1a followed by a splitmix64 finaliser: stable across platforms and
    // Rust versions (unlike `DefaultHasher`).
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// 13 lowercase base32 characters, like Azure's `uniqueString` (but not the
/// same value).
pub fn unique_string(input: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut h = hash64(input.as_bytes(), 0);
    let mut out = String::with_capacity(13);
    for _ in 0..13 {
        out.push(ALPHABET[(h & 31) as usize] as char);
        h >>= 5;
    }
    out
}

pub(super) fn guid_of(input: &str) -> String {
    let a = hash64(input.as_bytes(), 0x5bd1_e995);
    let b = hash64(input.as_bytes(), 0x27d4_eb2f);
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x5000; // version 5 nibble
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000; // RFC 4122 variant
    format!("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48, b & 0xffff_ffff_ffff)
}

pub(super) fn environment() -> Value {
    serde_json::json!({
        "name": "AzureCloud",
        "gallery": "https://gallery.azure.com/",
        "graph": "https://graph.windows.net/",
        "portal": "https://portal.azure.com",
        "graphAudience": "https://graph.windows.net/",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "batch": "https://batch.core.windows.net/",
        "media": "https://rest.media.azure.net",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json",
        "resourceManager": "https://management.azure.com/",
        "authentication": {
            "loginEndpoint": "https://login.microsoftonline.com/",
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD"
        },
        "suffixes": {
            "acrLoginServer": ".azurecr.io",
            "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "keyvaultDns": ".vault.azure.net",
            "sqlServerHostname": ".database.windows.net",
            "storage": "core.windows.net"
        }
    })
}

/// A value Azure fills in at deployment (a property of `reference()`,
/// `list*()` or `deployment()` that the template cannot know).
pub fn runtime_placeholder(name: &str) -> String {
    super::unknown::marker(name, None)
}

const PUBLIC_IP_OF: &str = "ipAddress of public IP '";

/// What `reference(pip).ipAddress` reads for public IP resource `name`
/// when its address is not known.
pub fn public_ip_placeholder(name: &str) -> String {
    runtime_placeholder(&format!("{PUBLIC_IP_OF}{name}'"))
}

/// What a runtime placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder<'a> {
    /// The address of the public IP resource of this name.
    PublicIp(&'a str),
    /// Some other runtime property, by its name (`privateIPAddress`).
    Property(&'a str),
}

/// `s` as a runtime placeholder, if it is one.
pub fn placeholder(s: &str) -> Option<Placeholder<'_>> {
    let name = s.trim().strip_prefix("<runtime:")?.strip_suffix('>')?;
    match name.strip_prefix(PUBLIC_IP_OF).and_then(|n| n.strip_suffix('\'')) {
        Some(pip) => Some(Placeholder::PublicIp(pip)),
        None => Some(Placeholder::Property(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::{placeholder, public_ip_placeholder, runtime_placeholder, Placeholder};
    use crate::arm::expr::testenv::ev;

    #[test]
    fn placeholders_read_back() {
        assert_eq!(placeholder(&runtime_placeholder("privateIPAddress")), Some(Placeholder::Property("privateIPAddress")));
        assert_eq!(placeholder(&public_ip_placeholder("pip-1")), Some(Placeholder::PublicIp("pip-1")));
        assert_eq!(placeholder("10.0.0.4"), None);
        assert_eq!(placeholder("<listKeys placeholder>"), None);
    }

    #[test]
    fn unique_string_and_guid_are_deterministic() {
        let a = ev("[uniqueString(resourceGroup().id)]");
        let b = ev("[uniqueString(resourceGroup().id)]");
        let c = ev("[uniqueString('other')]");
        assert_eq!(a, b);
        assert_ne!(a, c);
        let s = a.as_str().unwrap_or_default();
        assert_eq!(s.len(), 13);
        assert!(s.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()));
        let g = ev("[guid('a', 'b')]");
        let g = g.as_str().unwrap_or_default();
        let parts: Vec<usize> = g.split('-').map(str::len).collect();
        assert_eq!(parts, vec![8, 4, 4, 4, 12]);
        assert_ne!(ev("[guid('a', 'b')]"), ev("[guid('a', 'c')]"));
    }
}
