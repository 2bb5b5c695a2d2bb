//! `--resource-group` and `--subscription`: what `resourceGroup()`,
//! `subscription()` and the ids a template builds name, also in `vnetlab
//! eval`. Without `--resource-group` the group is only assumed: an app
//! template combined with `az` output of the VNet from its real group
//! loads, with one warning asking for the flag.

use std::path::PathBuf;
use std::process::{Command, Output};

fn vnetlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnetlab")).args(args).output().expect("runs vnetlab")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The app template: its subnet id names the deployment's resource group.
const SITE: &str = r#"{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0",
"resources":[
{"type":"Microsoft.Web/serverfarms","apiVersion":"2022-09-01","name":"plan","location":"westeurope","sku":{"name":"P1v3"}},
{"type":"Microsoft.Web/sites","apiVersion":"2022-09-01","name":"app","location":"westeurope","properties":{"serverFarmId":"[resourceId('Microsoft.Web/serverfarms','plan')]","virtualNetworkSubnetId":"[resourceId('Microsoft.Network/virtualNetworks/subnets','vnet','int')]","vnetRouteAllEnabled":true}}
]}"#;

/// `az network vnet show` of the VNet, in resource group `net-rg`.
const VNET_AZ: &str = r#"{"id":"/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/vnet","name":"vnet","type":"Microsoft.Network/virtualNetworks","location":"westeurope",
"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},
"subnets":[{"id":"/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/int","name":"int","addressPrefix":"10.0.1.0/24","delegations":[{"name":"d","serviceName":"Microsoft.Web/serverFarms"}]}]}"#;

/// Both files in a fresh folder of the test's own.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("vnetlab-cli-rg-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("site.json"), SITE).expect("writes the template");
        std::fs::write(dir.join("vnet-az.json"), VNET_AZ).expect("writes the az output");
        Dir(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("utf-8 path").to_string()
    }

    /// `vnetlab routes` of both files, with `extra` flags.
    fn routes(&self, extra: &[&str]) -> Output {
        let (site, vnet) = (self.file("site.json"), self.file("vnet-az.json"));
        let mut args = vec!["routes", "-t", &site, "-t", &vnet];
        args.extend_from_slice(extra);
        vnetlab(&args)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn without_the_flag_the_vnet_of_another_group_is_used_with_one_warning() {
    let d = Dir::new("assumed");
    let o = d.routes(&[]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(out.contains("vnet/int") && out.contains("10.0.0.0/16"), "{out}");
    let at = format!("warning: {}: at $.resources[1].properties.virtualNetworkSubnetId:", d.file("site.json"));
    assert_eq!(err.matches(&at).count(), 1, "{err}");
    assert!(err.contains("'net-rg'") && err.contains("--resource-group net-rg"), "{err}");
}

#[test]
fn the_flags_name_the_group_exactly_and_silence_the_warning() {
    let d = Dir::new("given");
    let o = d.routes(&["--resource-group", "net-rg", "--subscription", "11111111-1111-1111-1111-111111111111"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(out.contains("vnet/int"), "{out}");
    assert!(!err.contains("--resource-group"), "{err}");

    let o = d.routes(&["--resource-group", "other-rg"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("'other-rg'") && err.contains("net-rg") && err.contains("check --resource-group"), "{err}");

    let o = d.routes(&["--resource-group", " "]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("--resource-group"), "{}", text(&o.stderr));
}

#[test]
fn eval_reads_the_flags() {
    let o = vnetlab(&[
        "eval",
        "--resource-group",
        "x",
        "--subscription",
        "11111111-1111-1111-1111-111111111111",
        "resourceGroup().name",
        "subscription().subscriptionId",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "\"x\"\n\"11111111-1111-1111-1111-111111111111\"\n");
    let help = text(&vnetlab(&["routes", "--help"]).stdout);
    assert!(help.contains("--resource-group <NAME>") && help.contains("--subscription <ID>"), "{help}");
}
