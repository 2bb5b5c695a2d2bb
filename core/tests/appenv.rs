//! The environment App Service gives the app (fact sheet 13.1), as
//! `vnetlab run` gives it to CMD: the whole list for the embedded default
//! scenario, and a template with app settings (both ways of writing them),
//! a plan SKU, a location and a resource group from the deployment.

use std::collections::BTreeMap;
use std::path::PathBuf;

use vnetlab_core::arm::DeployContext;
use vnetlab_core::files::MemFiles;
use vnetlab_core::policy::PolicyOptions;
use vnetlab_core::scenario::{self, Inputs};

fn env_of(files: &MemFiles, inputs: &Inputs, opts: &PolicyOptions) -> BTreeMap<String, String> {
    let p = scenario::load_policy(files, inputs, opts).expect("loads");
    let env = p.environment();
    let map: BTreeMap<String, String> = env.iter().cloned().collect();
    assert_eq!(map.len(), env.len(), "no variable twice: {env:?}");
    map
}

fn want(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn the_embedded_scenario_gives_the_platform_variables() {
    let env = env_of(&MemFiles::default(), &Inputs::default(), &PolicyOptions::default());
    let id = env.get("WEBSITE_INSTANCE_ID").cloned().unwrap_or_default();
    assert_eq!(id.len(), 64, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(
        env,
        want(&[
            ("WEBSITE_PRIVATE_IP", "10.0.2.4"),
            ("WEBSITE_SITE_NAME", "func-app"),
            ("WEBSITE_HOSTNAME", "func-app.azurewebsites.net"),
            ("WEBSITE_RESOURCE_GROUP", "rg-vnetlab"),
            ("WEBSITE_OWNER_NAME", "00000000-0000-0000-0000-000000000000+rg-vnetlab-westeuropewebspace-Linux"),
            ("REGION_NAME", "westeurope"),
            ("WEBSITE_SKU", "ElasticPremium"),
            ("WEBSITE_INSTANCE_ID", &id),
            ("WEBSITE_VNET_ROUTE_ALL", "1"),
        ])
    );
    // Stable: the same on every load.
    let again = env_of(&MemFiles::default(), &Inputs::default(), &PolicyOptions::default());
    assert_eq!(again["WEBSITE_INSTANCE_ID"], id);
}

const TEMPLATE: &str = r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-09-01", "name": "vnet", "location": "northeurope",
     "properties": {"addressSpace": {"addressPrefixes": ["10.20.0.0/16"]},
       "subnets": [{"name": "apps", "properties": {"addressPrefix": "10.20.1.0/24",
         "delegations": [{"name": "web", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}}]}},
    {"type": "Microsoft.Web/serverfarms", "apiVersion": "2023-12-01", "name": "plan", "location": "northeurope",
     "sku": {"name": "P1v3", "tier": "PremiumV3"}},
    {"type": "Microsoft.Web/sites", "apiVersion": "2023-12-01", "name": "Orders-Api", "location": "[resourceGroup().location]", "kind": "app",
     "properties": {
       "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
       "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'apps')]",
       "outboundIpAddresses": "198.51.100.40",
       "siteConfig": {"appSettings": [
         {"name": "WEBSITE_DNS_SERVER", "value": "10.20.0.4"},
         {"name": "WEBSITE_VNET_ROUTE_ALL", "value": "1"},
         {"name": "WEBSITE_SITE_NAME", "value": "not-a-platform-override"},
         {"name": "ConnectionStrings__Db", "value": "Server=db;Port=5432"}
       ]}}},
    {"type": "Microsoft.Web/sites/config", "apiVersion": "2023-12-01", "name": "Orders-Api/appsettings",
     "properties": {"FUNCTIONS_WORKER_RUNTIME": "dotnet-isolated", "RETRIES": 3}}
  ]
}"#;

#[test]
fn a_template_with_app_settings_gives_them_as_they_are_and_with_the_prefix() {
    let files = MemFiles::default().with("/in/azuredeploy.json", TEMPLATE);
    let inputs = Inputs {
        files: vec![PathBuf::from("/in/azuredeploy.json")],
        ctx: DeployContext {
            subscription_id: "11111111-2222-3333-4444-555555555555".into(),
            resource_group: "rg-orders".into(),
            location: "northeurope".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let env = env_of(&files, &inputs, &PolicyOptions::default());
    let id = env["WEBSITE_INSTANCE_ID"].clone();
    assert_eq!(
        env,
        want(&[
            ("WEBSITE_PRIVATE_IP", "10.20.1.4"),
            ("WEBSITE_SITE_NAME", "Orders-Api"),
            ("WEBSITE_HOSTNAME", "orders-api.azurewebsites.net"),
            ("WEBSITE_RESOURCE_GROUP", "rg-orders"),
            ("WEBSITE_OWNER_NAME", "11111111-2222-3333-4444-555555555555+rg-orders-northeuropewebspace"),
            ("REGION_NAME", "northeurope"),
            ("WEBSITE_SKU", "PremiumV3"),
            ("WEBSITE_INSTANCE_ID", &id),
            // App settings as they are (the platform's WEBSITE_SITE_NAME is read-only)...
            ("WEBSITE_DNS_SERVER", "10.20.0.4"),
            ("WEBSITE_VNET_ROUTE_ALL", "1"),
            ("ConnectionStrings__Db", "Server=db;Port=5432"),
            ("FUNCTIONS_WORKER_RUNTIME", "dotnet-isolated"),
            ("RETRIES", "3"),
            // ...and as .NET sees them.
            ("APPSETTING_WEBSITE_DNS_SERVER", "10.20.0.4"),
            ("APPSETTING_WEBSITE_VNET_ROUTE_ALL", "1"),
            ("APPSETTING_ConnectionStrings__Db", "Server=db;Port=5432"),
            ("APPSETTING_FUNCTIONS_WORKER_RUNTIME", "dotnet-isolated"),
            ("APPSETTING_RETRIES", "3"),
        ])
    );
}

#[test]
fn a_nic_sender_gets_the_private_address_only() {
    let opts = PolicyOptions { subnet: Some("vnet-app/integration".into()), ..Default::default() };
    let env = env_of(&MemFiles::default(), &Inputs::default(), &opts);
    assert_eq!(env, want(&[("WEBSITE_PRIVATE_IP", "10.0.2.4")]));
}
