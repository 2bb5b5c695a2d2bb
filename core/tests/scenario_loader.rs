//! The one loader: with no input files, `scenario` loads the embedded
//! default case through the same code as a case file, so the CLI's
//! embedded scenario and `examples/default-scenario.json` loaded as a
//! conformance case answer alike. Also: loading goes through `Files` only
//! (cases and templates served from memory).

mod test_disk;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use test_disk::TestDisk;
use vnetlab_core::check;
use vnetlab_core::conformance;
use vnetlab_core::decision::Resolution;
use vnetlab_core::files::MemFiles;
use vnetlab_core::policy::{Policy, PolicyOptions};
use vnetlab_core::scenario::{self, Inputs};

fn example_case() -> conformance::Case {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/default-scenario.json");
    conformance::load_case(&TestDisk, &file, &Default::default()).expect("example case loads")
}

fn embedded(opts: &PolicyOptions) -> Policy {
    // No files at all: nothing may be read.
    scenario::load_policy(&MemFiles::default(), &Inputs::default(), opts).expect("embedded scenario loads")
}

fn addrs(r: Resolution) -> Vec<Ipv4Addr> {
    check::resolved_addresses(&r)
}

#[test]
fn no_files_means_the_embedded_case_with_its_public_dns() {
    let case = example_case();
    let p = embedded(&PolicyOptions::default());
    assert_eq!(addrs(p.resolve("www.example.org")), vec![Ipv4Addr::new(198, 51, 100, 80)], "the case's public_dns");
    assert_eq!(addrs(p.resolve("www.example.org")), addrs(case.policy.resolve("www.example.org")));
    assert_eq!(addrs(p.resolve("stfuncdata.blob.core.windows.net")), addrs(case.policy.resolve("stfuncdata.blob.core.windows.net")));
    for flow in ["tcp www.example.org:443", "tcp www.example.org:80", "tcp stfuncdata.blob.core.windows.net:443", "tcp 172.20.1.5:1433", "udp 198.51.100.53:53"]
    {
        let spec = check::parse_flow(flow).expect("valid flow");
        let (a, b) = (check::evaluate(&p, &spec), check::evaluate(&case.policy, &spec));
        assert_eq!(a.decision, b.decision, "{flow}");
        assert_eq!(a.actual(&p), b.actual(&case.policy), "{flow}");
    }
    // The embedded case's checks pass through the runner.
    let embedded_case = conformance::load_default_case(&MemFiles::default(), &Default::default()).expect("loads");
    let report = conformance::run_case(embedded_case, None);
    assert_eq!((report.passed, report.failed), (case.checks.len(), 0));
}

#[test]
fn command_line_options_extend_the_embedded_case() {
    let mut opts = PolicyOptions::default();
    opts.public_dns.insert("api.example.net".into(), vec![Ipv4Addr::new(203, 0, 113, 9)]);
    opts.public_dns.insert("WWW.example.org".into(), vec![Ipv4Addr::new(203, 0, 113, 10)]);
    let p = embedded(&opts);
    assert_eq!(addrs(p.resolve("api.example.net")), vec![Ipv4Addr::new(203, 0, 113, 9)]);
    // The case's answer first, the command line's added.
    assert_eq!(addrs(p.resolve("www.example.org")), vec![Ipv4Addr::new(198, 51, 100, 80), Ipv4Addr::new(203, 0, 113, 10)]);
    // A -p for a parameter the template does not declare is an error, as for any template.
    let bad = Inputs { params: vec!["noSuchParameter=1".into()], ..Default::default() };
    assert!(scenario::load_scenario(&MemFiles::default(), &bad).is_err());
}

#[test]
fn cases_and_templates_load_through_files_only() {
    let case = scenario::DEFAULT_CASE.replace("\"public_dns\"", "\"ignored_dns\"");
    let v: serde_json::Value = serde_json::from_str(&case).expect("JSON");
    let template = serde_json::to_string(&v["template"]).expect("template");
    // The same case, its template moved to a file next to it.
    let mut by_path = v.clone();
    by_path["template"] = "templates/app.json".into();
    by_path["name"] = "by-path".into();
    let files = MemFiles::default()
        .with("cases/inline.json", case.clone())
        .with("cases/by-path.json", by_path.to_string())
        .with("cases/templates/app.json", template)
        .with("cases/notes.txt", "not a case");
    assert_eq!(
        conformance::discover(&files, &[PathBuf::from("cases")]).expect("discovers"),
        [PathBuf::from("cases/by-path.json"), PathBuf::from("cases/inline.json")]
    );
    let report = conformance::run(&files, &[PathBuf::from("cases")], &Default::default(), None, |_| {}).expect("runs");
    // Without its public DNS answers, www.example.org does not resolve: the
    // two checks that need it fail, in both cases alike.
    assert_eq!(report.cases, 2);
    assert_eq!(report.passed + report.failed, 18);
    assert_eq!(report.failed, 4, "{:?}", report.failures.iter().map(|f| f.line()).collect::<Vec<_>>());
    // A missing template names the case file and the template.
    let missing = MemFiles::default().with("c.json", by_path.to_string());
    let err = match conformance::load_case(&missing, Path::new("c.json"), &Default::default()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("loads without its template"),
    };
    assert!(err.contains("c.json") && err.contains("templates/app.json"), "{err}");
}
