//! Deterministic stand-ins for what Azure computes or supplies at deployment:
//! `uniqueString`, `guid`/`newGuid` (same inputs, same output, but not
//! Azure's output) and the public cloud's `environment()` object.

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

#[cfg(test)]
mod tests {
    use crate::arm::expr::testenv::ev;

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
