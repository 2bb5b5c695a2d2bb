//! Nested deployments (`Microsoft.Resources/deployments` with an inline
//! template, inner or outer expression scope) and template outputs.

use super::external::External;
use super::input::parameter_values_from_object;
use super::limits::check_sections;
use super::names::{child_path, obj_get};
use super::scope::{ModuleInfo, Output, Scope};
use crate::arm::deploy::{DeployContext, ParamValues};
use crate::arm::expr::{self, Budget, CopyFrame, Env, Expr};
use crate::arm::resource::Resource;
use crate::error::LoadError;
use serde_json::{Map, Value};
use std::rc::Rc;

/// Nested deployments deeper than this are surely a loop.
const MAX_NESTING: usize = 10;

/// Where a template sits: how deep in nested deployments, the budget every
/// nested deployment shares, and for a nested one who deploys it.
pub(super) struct Nesting<'a> {
    pub(super) depth: usize,
    pub(super) budget: Rc<Budget>,
    /// An inner-scope nested deployment: its name and parent.
    pub(super) module: Option<ModuleInfo>,
    /// An outer-scope nested template expanded on its own: the scope
    /// around it, whose parameters, variables and functions it reads, and
    /// the copy loops around the deployment, whose `copyIndex()` it reads.
    pub(super) outer: Option<(&'a dyn Env, &'a [CopyFrame])>,
    /// Resources of the other inputs (shared with every nested deployment),
    /// which `reference()` and `existing` resources may read.
    pub(super) external: Option<&'a External>,
}

/// Expands a template; with `with_outputs`, also evaluates its `outputs`
/// (a nested deployment's outputs are what `reference(deployment).outputs`
/// reads; the top-level template's outputs are of no use here).
pub(super) fn expand_at<'a>(
    template: &'a Value,
    file: &str,
    params: &ParamValues,
    ctx: &DeployContext,
    base: &str,
    nesting: Nesting<'a>,
    with_outputs: bool,
) -> Result<(Vec<Resource>, Value), LoadError> {
    if nesting.depth > MAX_NESTING {
        return Err(LoadError::new(file, base, "nested deployments are nested too deeply"));
    }
    let mut scope = Scope::new(template, file, params, ctx, base, nesting.depth, nesting.budget)?;
    scope.external = nesting.external;
    // `deployment().name` inside a nested deployment is its own name.
    if let Some(m) = nesting.module {
        scope.deployment_name = m.name.clone();
        scope.module = Some(m);
    }
    // Outer scope: the template's own parameters and variables are not
    // used (ARM ignores them); everything is read from around it.
    let mut copies: &[CopyFrame] = &[];
    if let Some((o, frames)) = nesting.outer {
        copies = frames;
        scope.params.clear();
        scope.variables = None;
        scope.functions.clear();
        scope.deployment_name = o.deployment_name();
        scope.outer = Some(o);
    }
    scope.resolve_all_parameters()?;
    scope.enumerate_resources(template, base, copies)?;
    // Outputs first: `finish` moves the bodies out that outputs may read.
    let outputs = if with_outputs { scope.eval_outputs(template.get("outputs"), &format!("{base}.outputs"), copies)? } else { Value::Null };
    let resources = scope.finish()?;
    Ok((resources, outputs))
}

impl<'t> Scope<'t> {
    /// Enumerates the template's resources (array or object keyed by
    /// symbolic name), copies expanded: what `reference()` finds.
    pub(super) fn enumerate_resources(&self, template: &'t Value, base: &str, copies: &[CopyFrame]) -> Result<(), LoadError> {
        match template.get("resources") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for (i, r) in list.iter().enumerate() {
                    self.enumerate(r, &format!("{base}.resources[{i}]"), None, copies, (None, 0))?;
                }
            }
            Some(Value::Object(map)) => {
                for (sym, r) in map {
                    self.enumerate(r, &child_path(&format!("{base}.resources"), sym), None, copies, (Some(sym.as_str()), 0))?;
                }
            }
            Some(other) => {
                return Err(LoadError::new(
                    &self.file,
                    format!("{base}.resources"),
                    format!("'resources' must be an array (or an object keyed by symbolic name) but is {}", expr::kind(other)),
                ))
            }
        }
        Ok(())
    }
}

impl<'t> Scope<'t> {
    /// Checks a nested deployment and returns its inline template and
    /// whether it uses the inner expression scope.
    fn deployment_template(&self, res: &'t Map<String, Value>, name: &str, path: &str) -> Result<(&'t Map<String, Value>, &'t Value, bool), LoadError> {
        let pp = format!("{path}.properties");
        let Some(props) = obj_get(res, "properties").and_then(Value::as_object) else {
            return Err(self.err(path, "a nested deployment needs 'properties'"));
        };
        if obj_get(props, "templateLink").is_some() {
            return Err(self.err(
                format!("{pp}.templateLink"),
                format!("unsupported: nested deployment '{name}' uses a templateLink (linked template); inline the template instead"),
            ));
        }
        let Some(inner) = obj_get(props, "template") else {
            return Err(self.err(&pp, format!("nested deployment '{name}' has no inline 'template'")));
        };
        let inner_scope = matches!(
            obj_get(props, "expressionEvaluationOptions").and_then(Value::as_object).and_then(|o| obj_get(o, "scope")),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("inner")
        );
        match inner {
            Value::Object(t) => check_sections(t, &self.file, &format!("{pp}.template"))?,
            // Bicep's `loadJsonContent`/`loadTextContent`: the template is
            // computed (`[json(variables('$fxv#0'))]`), then expanded on its
            // own when the deployment's body is evaluated (an outer-scope one
            // reading this template's parameters and variables).
            Value::String(s) if expr::is_expression(s) => {}
            _ => return Err(self.err(format!("{pp}.template"), "a nested template must be an object (or an expression that computes one)")),
        }
        Ok((props, inner, inner_scope))
    }

    /// Inner scope, or a computed template: expanded lazily (its parameters
    /// may `reference()` anything in this template). Outer scope: the inner
    /// resources read this template's parameters and variables, as if
    /// declared here.
    pub(super) fn nested_deployment(&self, res: &'t Map<String, Value>, idx: usize, name: &str, path: &str, copies: &[CopyFrame]) -> Result<(), LoadError> {
        let (_, inner, inner_scope) = self.deployment_template(res, name, path)?;
        if inner_scope || inner.is_string() {
            self.outputs.borrow_mut().push(Output::Nested(idx));
            return Ok(());
        }
        let tpath = format!("{path}.properties.template");
        match inner.get("resources") {
            Some(Value::Array(list)) => {
                // Its own template, with its own limit on resources.
                let tmpl = self.new_template_count();
                for (i, r) in list.iter().enumerate() {
                    self.enumerate(r, &format!("{tpath}.resources[{i}]"), None, copies, (None, tmpl))?;
                }
                Ok(())
            }
            // languageVersion 2.0: keyed by symbolic name (`{}` when empty).
            Some(Value::Object(map)) => {
                let tmpl = self.new_template_count();
                for (sym, r) in map {
                    self.enumerate(r, &child_path(&format!("{tpath}.resources"), sym), None, copies, (Some(sym.as_str()), tmpl))?;
                }
                Ok(())
            }
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(self.err(
                format!("{tpath}.resources"),
                format!("'resources' of a nested template must be an array (or an object keyed by symbolic name) but is {}", expr::kind(other)),
            )),
        }
    }

    /// A nested deployment's body: `{properties: {outputs}}`; an inner-scope
    /// one is expanded here and its resources kept for `finish`.
    pub(super) fn deployment_body(&self, idx: usize, res: &'t Map<String, Value>, copies: &[CopyFrame], path: &str, name: &str) -> Result<Value, LoadError> {
        let (props, inner, inner_scope) = self.deployment_template(res, name, path)?;
        let pp = format!("{path}.properties");
        let tpath = format!("{pp}.template");
        let outputs = if inner_scope || inner.is_string() {
            let mut pv = ParamValues::default();
            let mut module = None;
            if inner_scope {
                if let Some(p) = obj_get(props, "parameters") {
                    let evaluated = self.eval_value(p, &format!("{pp}.parameters"), copies)?;
                    for (k, v) in parameter_values_from_object(&evaluated, &self.file, &format!("{pp}.parameters"))? {
                        pv.values.push((k, v, format!("{pp}.parameters")));
                    }
                }
                let from_parent = obj_get(props, "parameters").map(passed_parameters).unwrap_or_default();
                module = Some(ModuleInfo { name: name.to_string(), path: path.to_string(), from_parent, parent_is_top: self.depth == 0 });
            }
            let mut ctx = self.ctx.clone();
            if let Some(Value::String(rg)) = obj_get(res, "resourceGroup").map(|v| self.eval_json(v, &format!("{path}.resourceGroup"), copies)).transpose()? {
                ctx.resource_group = rg;
            }
            if let Some(Value::String(sub)) =
                obj_get(res, "subscriptionId").map(|v| self.eval_json(v, &format!("{path}.subscriptionId"), copies)).transpose()?
            {
                ctx.subscription_id = sub;
            }
            let computed;
            let template = if inner.is_string() {
                computed = self.eval_value(inner, &tpath, copies)?;
                let Some(t) = computed.as_object() else {
                    return Err(self.err(&tpath, format!("the computed nested template must be an object but is {}", expr::kind(&computed))));
                };
                check_sections(t, &self.file, &tpath)?;
                &computed
            } else {
                inner
            };
            let outer: Option<(&dyn Env, &[CopyFrame])> = if inner_scope { None } else { Some((self, copies)) };
            let nesting = Nesting { depth: self.depth + 1, budget: self.budget.clone(), module, outer, external: self.external };
            let (resources, outputs) = expand_at(template, &self.file, &pv, &ctx, &tpath, nesting, true)?;
            self.nested.borrow_mut().insert(idx, resources);
            outputs
        } else {
            self.eval_outputs(inner.get("outputs"), &format!("{tpath}.outputs"), copies)?
        };
        Ok(serde_json::json!({"properties": {"outputs": outputs, "provisioningState": "Succeeded"}}))
    }

    /// `outputs` as `reference(deployment).outputs` shows them:
    /// `{name: {type, value}}`, with output-level `copy` expanded.
    fn eval_outputs(&self, outputs: Option<&Value>, path: &str, copies: &[CopyFrame]) -> Result<Value, LoadError> {
        let mut out = Map::new();
        let Some(Value::Object(o)) = outputs else { return Ok(Value::Object(out)) };
        for (k, decl) in o {
            let p = child_path(path, k);
            let Some(d) = decl.as_object() else { return Err(self.err(&p, "an output must be an object {type, value}")) };
            let value = if let Some(Value::Object(c)) = obj_get(d, "copy") {
                let count = self.copy_count(obj_get(c, "count"), &format!("{p}.copy"), copies)?;
                let input = obj_get(c, "input").ok_or_else(|| self.err(format!("{p}.copy"), "an output copy needs an 'input'"))?;
                let mut items = Vec::new();
                for i in 0..count {
                    let mut frames = copies.to_vec();
                    frames.push(CopyFrame { name: None, index: i, answers_unnamed: true });
                    items.push(self.eval_value(input, &format!("{p}.copy.input (copy {i})"), &frames)?);
                }
                Value::Array(items)
            } else {
                match obj_get(d, "value") {
                    Some(v) => self.eval_value(v, &format!("{p}.value"), copies)?,
                    None => Value::Null,
                }
            };
            let t = obj_get(d, "type").cloned().unwrap_or(Value::Null);
            out.insert(k.clone(), serde_json::json!({"type": t, "value": value}));
        }
        Ok(Value::Object(out))
    }
}

/// The module parameters a parent passes straight from one of its own
/// parameters (`"x": {"value": "[parameters('p')]"}`), as (x, p): what an
/// error about a null `x` names.
fn passed_parameters(raw: &Value) -> Vec<(String, String)> {
    let Some(o) = raw.as_object() else { return Vec::new() };
    let mut out = Vec::new();
    for (k, v) in o {
        let text = match v {
            Value::Object(w) => w.get("value").and_then(Value::as_str),
            Value::String(s) => Some(s.as_str()),
            _ => None,
        };
        let Some(text) = text.filter(|t| expr::is_expression(t)) else { continue };
        if let Ok(Expr::Call { name, args }) = expr::parse_expression(text) {
            if let (true, [Expr::Str(p)]) = (name.eq_ignore_ascii_case("parameters"), args.as_slice()) {
                out.push((k.clone(), p.clone()));
            }
        }
    }
    out
}
