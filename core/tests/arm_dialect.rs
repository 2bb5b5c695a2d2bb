//! ARM's JSON dialect: templates and parameters files may carry `//` and
//! `/* */` comments and line breaks inside strings, as Azure accepts; a
//! syntax error after them still names the line of the original text.

use vnetlab_core::arm::{self, DeployContext, ParamValues};

const TEMPLATE: &str = r#"{
  // a line comment before the schema
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  /* a block comment
     over two lines */
  "parameters": {
    "prefix": { "type": "string", "defaultValue": "10.0.0.0/16" } // trailing
  },
  "variables": {
    "url": "https://x/y", /* inline */ "name": "[concat(
        'vnet-',
        'a')]"
  },
  "resources": [
    {
      "type": "Microsoft.Network/virtualNetworks",
      "name": "[variables('name')]",
      "properties": {
        "addressSpace": { "addressPrefixes": [ "[parameters('prefix')]" ] },
        "description": "[variables('url')]"
      }
    }
  ]
}"#;

#[test]
fn comments_and_multiline_strings_load() {
    let v = arm::parse_json(TEMPLATE, "t.json").expect("ARM dialect parses");
    let rs = arm::expand_template(&v, "t.json", &ParamValues::default(), &DeployContext::default()).expect("expands");
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].name, "vnet-a");
    // `//` inside a string is not a comment.
    assert_eq!(rs[0].body["properties"]["description"], "https://x/y");
    assert_eq!(rs[0].body["properties"]["addressSpace"]["addressPrefixes"][0], "10.0.0.0/16");
}

#[test]
fn errors_after_comments_and_multiline_strings_keep_their_line() {
    // Line 6 has the error (a trailing comma), after a block comment over
    // lines 2-3 and a string over lines 4-5.
    let text = "{\n /* a\n b */ \"x\": 1,\n \"y\": \"[concat('a',\n 'b')]\", \"z\": 2,\n \"w\": [1,]\n}";
    let e = arm::parse_json(text, "bad.json").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.starts_with("bad.json: invalid JSON at line 6, column 10"), "{e}");
    // The column after a multi-line string is the original column too.
    let text = "{\"y\": \"a\nb\" x}";
    let e = arm::parse_json(text, "bad.json").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.starts_with("bad.json: invalid JSON at line 2, column 4"), "{e}");
}

#[test]
fn unterminated_comment_or_string_names_its_line() {
    let e = arm::parse_json("{\n\n  /* never closed\n}", "c.json").err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(e, "c.json: invalid JSON: unterminated /* comment starting at line 3");
    let e = arm::parse_json("{\n \"a\": \"open\n}", "s.json").err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(e, "s.json: invalid JSON: unterminated string starting at line 2");
}

#[test]
fn parameters_file_with_comments() {
    let text = r#"{
  // deployment values
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "parameters": {
    /* the address space */
    "prefix": { "value": "10.1.0.0/16" }, // not the default
    "note": { "value": "line one
line two" }
  }
}"#;
    let values = arm::read_parameters_file(text, "p.json").expect("parses");
    assert_eq!(values[0], ("prefix".to_string(), serde_json::json!("10.1.0.0/16")));
    assert_eq!(values[1], ("note".to_string(), serde_json::json!("line one\nline two")));
    let bad = "{\n // c\n \"parameters\": {\n  \"a\": {\"value\": 1}\n  \"b\": {}\n }\n}";
    let e = arm::read_parameters_file(bad, "p.json").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.starts_with("p.json: invalid JSON at line 5"), "{e}");
}
