//! `-p` and `--parameters` with several input files: each value goes to the
//! files that declare the parameter (or the one named `-p FILE:NAME=VALUE`),
//! so a parameterised template combines with az output or another template.

use std::path::PathBuf;
use vnetlab_core::files::MemFiles;
use vnetlab_core::scenario::{self, Inputs};

const P: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vnetlab/providers";

fn vnet_template(param: &str, default: Option<&str>) -> String {
    let decl = match default {
        Some(d) => format!(r#"{{"type": "string", "defaultValue": "{d}"}}"#),
        None => r#"{"type": "string"}"#.to_string(),
    };
    format!(
        r#"{{"parameters": {{"{param}": {decl}}}, "resources": [{{"type": "Microsoft.Network/virtualNetworks",
        "name": "[parameters('{param}')]", "properties": {{"addressSpace": {{"addressPrefixes": ["10.0.0.0/16"]}}}}}}]}}"#
    )
}

fn route_table_az() -> String {
    format!(r#"{{"type": "Microsoft.Network/routeTables", "name": "rt", "id": "{P}/Microsoft.Network/routeTables/rt", "properties": {{"routes": []}}}}"#)
}

fn inputs(files: &[&str], params: &[&str]) -> Inputs {
    Inputs { files: files.iter().map(PathBuf::from).collect(), params: params.iter().map(|s| s.to_string()).collect(), ..Default::default() }
}

fn names(files: &MemFiles, inputs: &Inputs) -> Vec<String> {
    let mut n: Vec<String> = scenario::load_resources(files, inputs).expect("loads").into_iter().map(|r| r.name).collect();
    n.sort();
    n
}

fn err(files: &MemFiles, inputs: &Inputs) -> String {
    scenario::load_scenario(files, inputs).err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn a_parameterised_template_combines_with_az_output() {
    let files = MemFiles::default().with("t.json", vnet_template("vnetName", None)).with("rt.json", route_table_az());
    let i = inputs(&["t.json", "rt.json"], &["vnetName=vnet-a"]);
    assert_eq!(names(&files, &i), ["rt", "vnet-a"]);
    assert!(scenario::load_scenario(&files, &i).is_ok());
}

#[test]
fn a_parameter_declared_by_several_files_gets_the_value_in_each() {
    let files = MemFiles::default().with("a.json", vnet_template("name", Some("x"))).with("b.json", vnet_template("name", None));
    // Both declare `name`: both get it (two VNets of the same name merge
    // or clash, so give them different names through FILE:NAME instead).
    let i = inputs(&["a.json", "b.json"], &["name=v1"]);
    assert_eq!(names(&files, &i), ["v1", "v1"]);
    let i = inputs(&["a.json", "b.json"], &["b.json:name=v2"]);
    assert_eq!(names(&files, &i), ["v2", "x"]);
    // A file may be named by the path given with -t or by its file name.
    let files = files.with("dir/c.json", vnet_template("name", None));
    let i = inputs(&["a.json", "dir/c.json"], &["c.json:name=v3", "a.json:name=v4"]);
    assert_eq!(names(&files, &i), ["v3", "v4"]);
}

#[test]
fn a_parameter_declared_by_no_file_is_an_error_naming_it_and_the_files() {
    let files = MemFiles::default().with("t.json", vnet_template("vnetName", None)).with("rt.json", route_table_az());
    let e = err(&files, &inputs(&["t.json", "rt.json"], &["vnetName=v", "location=westeurope"]));
    assert_eq!(e, "parameter 'location' (given in -p) is declared by none of the inputs: t.json (declares vnetName); rt.json (takes no parameters)");
    let e = err(&files, &inputs(&["t.json", "rt.json"], &["rt.json:vnetName=v"]));
    assert_eq!(e, "parameter 'vnetName' (given in -p) is not declared by rt.json (takes no parameters)");
    let e = err(&files, &inputs(&["t.json", "rt.json"], &["other.json:vnetName=v"]));
    assert_eq!(e, "parameter 'other.json:vnetName' (given in -p): 'other.json' is none of the input files (t.json, rt.json)");
}

#[test]
fn a_parameters_file_is_routed_the_same_way() {
    let pfile = r#"{"parameters": {"vnetName": {"value": "from-file"}}}"#;
    let files = MemFiles::default()
        .with("t.json", vnet_template("vnetName", None))
        .with("rt.json", route_table_az())
        .with("t.parameters.json", pfile)
        .with("extra.parameters.json", r#"{"parameters": {"nope": {"value": 1}}}"#);
    let mut i = inputs(&["t.json", "rt.json"], &[]);
    i.param_files = vec!["t.parameters.json".into()];
    assert_eq!(names(&files, &i), ["from-file", "rt"]);
    i.param_files.push("extra.parameters.json".into());
    assert!(err(&files, &i).starts_with("parameter 'nope' (given in extra.parameters.json) is declared by none of the inputs"), "{}", err(&files, &i));
}
