//! Executes a parsed template on data, as Go's `text/template` does with `missingkey=zero`.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use regex::Regex;

use super::funcs::{self, Param};
use super::gofmt;
use super::gotime::{FieldValue, GoTime};
use super::parse::{Arg, ArgKind, Branch, Command, Node, Number, Pipe, TemplateCall};
use super::value::{RootData, Value};
use super::{line_column, QueryFn, Template, TemplateData, TemplateError};

/// Deepest nesting of template calls, control structures and parenthesized pipelines during
/// execution (Go allows 100000 template calls; we must stay well inside a 2 MiB thread stack).
const MAX_DEPTH: usize = 100;

/// Executes `tmpl` on `data`.
pub(super) fn execute(tmpl: &Template, data: &TemplateData, query: QueryFn<'_>) -> Result<String, TemplateError> {
    let root = Value::Data(Rc::new(RootData::new(data)));
    let mut ex = Exec {
        tmpl,
        data,
        query,
        vars: vec![("$".to_string(), root.clone())],
        depth: 0,
        exec_name: tmpl.name.clone(),
        regexes: HashMap::new(),
    };
    let mut out = String::new();
    ex.walk(&root, &tmpl.main, &mut out).map_err(|e| e.into_template_error(tmpl))?;
    Ok(out)
}

/// State of one execution.
pub(super) struct Exec<'a> {
    pub(super) tmpl: &'a Template,
    pub(super) data: &'a TemplateData,
    pub(super) query: QueryFn<'a>,
    /// Variables in scope, innermost last.
    vars: Vec<(String, Value)>,
    depth: usize,
    /// Name of the template being executed (differs from the main one inside `define`d templates).
    exec_name: String,
    /// Regular expressions compiled so far by `match` and `reReplaceAll`.
    pub(super) regexes: HashMap<String, Regex>,
}

/// An execution error at a node; turned into [`TemplateError::Exec`] at the top.
pub(super) struct ExecError {
    pos: usize,
    context: String,
    template: String,
    msg: String,
}

impl ExecError {
    pub(super) fn into_template_error(self, tmpl: &Template) -> TemplateError {
        let (line, column) = line_column(&tmpl.text, self.pos);
        TemplateError::Exec {
            name: tmpl.name.clone(),
            line,
            column,
            template: self.template,
            context: self.context,
            message: self.msg,
        }
    }
}

type EResult<T> = Result<T, ExecError>;

/// The node an error is reported at.
#[derive(Clone, Copy)]
pub(super) enum At<'n> {
    Arg(&'n Arg),
    Cmd(&'n Command),
    Pipe(&'n Pipe),
    Node(&'n Node, usize),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Arg(a) => a.pos,
            At::Cmd(c) => c.pos,
            At::Pipe(p) => p.pos,
            At::Node(_, pos) => *pos,
        }
    }
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Arg(a) => write!(f, "{a}"),
            At::Cmd(c) => write!(f, "{c}"),
            At::Pipe(p) => write!(f, "{p}"),
            At::Node(n, _) => write!(f, "{n}"),
        }
    }
}

/// What a list ended with: normally, or a `{{break}}`/`{{continue}}` for the enclosing range.
#[derive(PartialEq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

impl Exec<'_> {
    fn err(&self, at: At<'_>, msg: impl Into<String>) -> ExecError {
        ExecError { pos: at.pos(), context: at.to_string(), template: self.exec_name.clone(), msg: msg.into() }
    }

    fn walk(&mut self, dot: &Value, list: &[Node], out: &mut String) -> EResult<Flow> {
        for node in list {
            let flow = match node {
                Node::Text(t) => {
                    out.push_str(t);
                    Flow::Normal
                }
                Node::Action(pipe) => {
                    let v = self.eval_pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        print_value(out, &v);
                    }
                    Flow::Normal
                }
                Node::If(b) | Node::With(b) | Node::Range(b) => {
                    self.enter(At::Node(node, b.pipe.pos))?;
                    let flow = match node {
                        Node::Range(_) => self.walk_range(node, dot, b, out),
                        _ => self.walk_if_or_with(matches!(node, Node::With(_)), dot, b, out),
                    };
                    self.depth -= 1;
                    flow?
                }
                Node::Template(t) => {
                    self.walk_template(node, dot, t, out)?;
                    Flow::Normal
                }
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Value, b: &Branch, out: &mut String) -> EResult<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let flow = if val.truth() {
            self.walk(if with { &val } else { dot }, &b.list, out)?
        } else if let Some(else_list) = &b.else_list {
            self.walk(dot, else_list, out)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, node: &Node, dot: &Value, b: &Branch, out: &mut String) -> EResult<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let items: Vec<(Value, Value)> = match &val {
            Value::Samples(list) => {
                list.iter().enumerate().map(|(i, s)| (Value::Int(i as i64), Value::Sample(s.clone()))).collect()
            }
            Value::StrMap(m) => m.iter().map(|(k, v)| (Value::Str(k.clone()), Value::Str(v.clone()))).collect(),
            Value::AnyMap(m) => m.iter().map(|(k, v)| (Value::Str(k.clone()), v.clone())).collect(),
            Value::Int(n) => {
                if b.pipe.decl.len() > 1 {
                    let msg = format!("can't use {n} to iterate over more than one variable");
                    return Err(self.err(At::Node(node, b.pipe.pos), msg));
                }
                (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect()
            }
            Value::Nil => Vec::new(),
            other => {
                let msg = format!("range can't iterate over {}", gofmt::sprint_one(other));
                return Err(self.err(At::Node(node, b.pipe.pos), msg));
            }
        };
        if items.is_empty() {
            if let Some(else_list) = &b.else_list {
                let flow = self.walk(dot, else_list, out)?;
                self.vars.truncate(mark);
                return Ok(flow);
            }
        }
        let body_mark = self.vars.len();
        let decl = &b.pipe.decl;
        for (index, elem) in items {
            if let Some(first) = decl.first() {
                if b.pipe.is_assign {
                    let v = if decl.len() > 1 { index.clone() } else { elem.clone() };
                    self.set_var(At::Pipe(&b.pipe), first, v)?;
                } else {
                    self.set_top_var(1, elem.clone());
                }
            }
            if let Some(second) = decl.get(1) {
                if b.pipe.is_assign {
                    self.set_var(At::Pipe(&b.pipe), second, elem.clone())?;
                } else {
                    self.set_top_var(2, index);
                }
            }
            let flow = self.walk(&elem, &b.list, out)?;
            self.vars.truncate(body_mark);
            if flow == Flow::Break {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn walk_template(&mut self, node: &Node, dot: &Value, t: &TemplateCall, out: &mut String) -> EResult<()> {
        let at = At::Node(node, t.pos);
        if self.lookup(&t.name).is_none() {
            return Err(self.err(at, format!("template {:?} not defined", t.name)));
        }
        let new_dot = match &t.pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Nil,
        };
        self.run_named(at, &t.name, new_dot, out)
    }

    /// Runs the template `name` with `dot` and only `$` in scope.
    pub(super) fn run_named(&mut self, at: At<'_>, name: &str, dot: Value, out: &mut String) -> EResult<()> {
        let tmpl = self.tmpl;
        let Some(list) = lookup(tmpl, name) else {
            return Err(self.err(at, format!("template {name:?} not defined")));
        };
        self.enter(at)?;
        let vars = std::mem::replace(&mut self.vars, vec![("$".to_string(), dot.clone())]);
        let exec_name = std::mem::replace(&mut self.exec_name, name.to_string());
        let result = self.walk(&dot, list, out);
        self.depth -= 1;
        self.vars = vars;
        self.exec_name = exec_name;
        result.map(|_| ())
    }

    /// Counts one level of recursion; the caller decrements `depth` when leaving it.
    fn enter(&mut self, at: At<'_>) -> EResult<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(at, format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        self.depth += 1;
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<&[Node]> {
        lookup(self.tmpl, name)
    }

    fn set_var(&mut self, at: At<'_>, name: &str, value: Value) -> EResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(self.err(at, format!("undefined variable: {name}"))),
        }
    }

    /// Sets the `n`th variable from the top of the stack (1 is the top).
    fn set_top_var(&mut self, n: usize, value: Value) {
        let i = self.vars.len() - n;
        self.vars[i].1 = value;
    }

    fn var_value(&self, at: At<'_>, name: &str) -> EResult<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.err(at, format!("undefined variable: {name}"))),
        }
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> EResult<Value> {
        self.enter(At::Pipe(pipe))?;
        let mut value = None;
        for cmd in &pipe.cmds {
            match self.eval_command(dot, cmd, value) {
                Ok(v) => value = Some(v),
                Err(e) => {
                    self.depth -= 1;
                    return Err(e);
                }
            }
        }
        self.depth -= 1;
        let value = value.unwrap_or(Value::Nil);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(At::Pipe(pipe), name, value.clone())?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    /// One command; `last` is the previous command's value, passed as the final argument.
    fn eval_command(&mut self, dot: &Value, cmd: &Command, last: Option<Value>) -> EResult<Value> {
        let first = &cmd.args[0];
        match &first.kind {
            ArgKind::Field(names) => return self.eval_field_chain(dot, dot.clone(), first, names, &cmd.args, last),
            ArgKind::Chain(inner, names) => return self.eval_chain(dot, first, inner, names, &cmd.args, last),
            ArgKind::Ident(name) => return self.eval_function(dot, name, first, At::Cmd(cmd), &cmd.args, last),
            ArgKind::Variable(name, names) => return self.eval_variable(dot, first, name, names, &cmd.args, last),
            ArgKind::Pipe(p) => {
                self.not_a_function(first, &cmd.args, &last)?;
                return self.eval_pipeline(dot, p);
            }
            _ => {}
        }
        self.not_a_function(first, &cmd.args, &last)?;
        match &first.kind {
            ArgKind::Bool(b) => Ok(Value::Bool(*b)),
            ArgKind::Dot => Ok(dot.clone()),
            ArgKind::Number(n) => self.ideal_constant(first, n),
            ArgKind::Str { text, .. } => Ok(Value::Str(text.clone())),
            _ => Err(self.err(At::Arg(first), "nil is not a command")),
        }
    }

    fn not_a_function(&self, first: &Arg, args: &[Arg], last: &Option<Value>) -> EResult<()> {
        if args.len() > 1 || last.is_some() {
            return Err(self.err(At::Arg(first), format!("can't give argument to non-function {first}")));
        }
        Ok(())
    }

    fn ideal_constant(&self, at: &Arg, n: &Number) -> EResult<Value> {
        if n.is_char {
            return Ok(Value::Int(n.int.unwrap_or(0)));
        }
        let lower = n.text.to_ascii_lowercase();
        let is_hex_int = (lower.starts_with("0x") && !lower.contains('p')) || n.text.starts_with('\'');
        if let Some(f) = n.float {
            if !is_hex_int && lower.contains(['.', 'e', 'p']) {
                return Ok(Value::Float(f));
            }
        }
        match n.int {
            Some(i) => Ok(Value::Int(i)),
            None => Err(self.err(At::Arg(at), format!("{} overflows int", n.text))),
        }
    }

    fn eval_chain(
        &mut self,
        dot: &Value,
        node: &Arg,
        inner: &Arg,
        names: &[String],
        args: &[Arg],
        last: Option<Value>,
    ) -> EResult<Value> {
        if let ArgKind::Nil = inner.kind {
            return Err(self.err(At::Arg(node), format!("indirection through explicit nil in {node}")));
        }
        let receiver = self.eval_arg(dot, Param::Any, inner)?;
        // Go reports errors on the fields at the last node it evaluated inside the operand.
        self.eval_field_chain(dot, receiver, last_evaluated(inner), names, args, last)
    }

    fn eval_variable(
        &mut self,
        dot: &Value,
        node: &Arg,
        name: &str,
        names: &[String],
        args: &[Arg],
        last: Option<Value>,
    ) -> EResult<Value> {
        let value = self.var_value(At::Arg(node), name)?;
        if names.is_empty() {
            self.not_a_function(node, args, &last)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, node, names, args, last)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        receiver: Value,
        node: &Arg,
        names: &[String],
        args: &[Arg],
        last: Option<Value>,
    ) -> EResult<Value> {
        let (final_name, path) = names.split_last().expect("a field chain has at least one field");
        let mut receiver = receiver;
        for name in path {
            receiver = self.eval_field(dot, name, node, &[], None, receiver)?;
        }
        self.eval_field(dot, final_name, node, args, last, receiver)
    }

    /// `receiver.name`, with `args[1..]` and `last` as method arguments.
    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        node: &Arg,
        args: &[Arg],
        last: Option<Value>,
        receiver: Value,
    ) -> EResult<Value> {
        if let Value::Nil = receiver {
            return Ok(Value::Nil);
        }
        if let Value::Time(t) = receiver {
            if funcs::is_time_method(name) {
                return self.eval_time_method(dot, t, name, node, args, last);
            }
        }
        let has_args = args.len() > 1 || last.is_some();
        let no_field = || format!("can't evaluate field {name} in type {}", receiver.go_type());
        let value = match &receiver {
            Value::StrMap(_) | Value::AnyMap(_) if has_args => {
                return Err(self.err(At::Arg(node), format!("{name} is not a method but has arguments")));
            }
            Value::StrMap(m) => return Ok(Value::Str(m.get(name).cloned().unwrap_or_default())),
            Value::AnyMap(m) => return Ok(m.get(name).cloned().unwrap_or(Value::Nil)),
            Value::Data(d) => match name {
                "Labels" => Value::StrMap(d.labels.clone()),
                "ExternalLabels" => Value::StrMap(d.external_labels.clone()),
                "ExternalURL" => Value::Str(d.external_url.clone()),
                "Value" => Value::Float(d.value),
                _ => return Err(self.err(At::Arg(node), no_field())),
            },
            Value::Sample(s) => match name {
                "Labels" => Value::StrMap(s.labels.clone()),
                "Value" => Value::Float(s.value),
                _ => return Err(self.err(At::Arg(node), no_field())),
            },
            _ => return Err(self.err(At::Arg(node), no_field())),
        };
        if has_args {
            return Err(self.err(At::Arg(node), format!("{name} has arguments but cannot be invoked as function")));
        }
        Ok(value)
    }

    fn eval_time_method(
        &mut self,
        dot: &Value,
        t: GoTime,
        name: &str,
        node: &Arg,
        args: &[Arg],
        last: Option<Value>,
    ) -> EResult<Value> {
        let want = usize::from(name == "Format");
        let got = args.len().saturating_sub(1) + usize::from(last.is_some());
        if got != want {
            return Err(self.err(At::Arg(node), format!("wrong number of args for {name}: want {want} got {got}")));
        }
        let mut vals = Vec::new();
        for a in args.iter().skip(1) {
            vals.push(self.eval_arg(dot, Param::Str, a)?);
        }
        if let Some(v) = last {
            vals.push(self.validate(At::Arg(node), v, Param::Str)?);
        }
        Ok(match name {
            "Format" => Value::Str(match &vals[0] {
                Value::Str(layout) => t.format(layout),
                _ => String::new(),
            }),
            "String" => Value::Str(t.to_string()),
            "Unix" => Value::Int(t.secs),
            "UnixMilli" => Value::Int(t.unix_millis()),
            "UTC" | "Local" => Value::Time(t),
            _ => match t.field(name) {
                Some(FieldValue::Int(i)) => Value::Int(i),
                Some(FieldValue::Name(s)) => Value::Str(s.to_string()),
                None => Value::Nil,
            },
        })
    }

    /// Calls function `name`; `args[0]` is its name, `at` where "error calling" is reported.
    fn eval_function(
        &mut self,
        dot: &Value,
        name: &str,
        ident: &Arg,
        at: At<'_>,
        args: &[Arg],
        last: Option<Value>,
    ) -> EResult<Value> {
        let Some(sig) = funcs::signature(name) else {
            return Err(self.err(At::Arg(ident), format!("{name:?} is not a defined function")));
        };
        let call_args = &args[1..];
        let num_in = call_args.len() + usize::from(last.is_some());
        if sig.variadic.is_some() {
            if num_in < sig.fixed.len() {
                let msg = format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    sig.fixed.len(),
                    call_args.len()
                );
                return Err(self.err(At::Arg(ident), msg));
            }
        } else if num_in != sig.fixed.len() {
            let msg = format!("wrong number of args for {name}: want {} got {num_in}", sig.fixed.len());
            return Err(self.err(At::Arg(ident), msg));
        }
        if name == "and" || name == "or" {
            // Short-circuit: the first false (and) or true (or) argument, else the last.
            let mut v = Value::Nil;
            for a in call_args {
                v = self.eval_arg(dot, Param::Any, a)?;
                if v.truth() == (name == "or") {
                    return Ok(v);
                }
            }
            return Ok(last.unwrap_or(v));
        }
        let mut vals = Vec::with_capacity(num_in);
        for (i, a) in call_args.iter().enumerate() {
            vals.push(self.eval_arg(dot, sig.param(i), a)?);
        }
        if let Some(v) = last {
            // Go checks the piped-in value after the other arguments, reporting at the last one.
            let check_at = call_args.last().map_or(At::Arg(ident), |a| At::Arg(last_evaluated(a)));
            vals.push(self.validate(check_at, v, sig.param(num_in - 1))?);
        }
        self.call(at, name, vals).map_err(|msg| self.err(at, format!("error calling {name}: {msg}")))
    }

    /// Evaluates an argument for a parameter of the given type, with Go's checks.
    fn eval_arg(&mut self, dot: &Value, param: Param, arg: &Arg) -> EResult<Value> {
        let at = At::Arg(arg);
        let value = match &arg.kind {
            ArgKind::Dot => dot.clone(),
            ArgKind::Nil => {
                return match param {
                    Param::Str => Err(self.err(at, "cannot assign nil to string")),
                    Param::Samples => Ok(Value::no_samples()),
                    Param::Any | Param::Sample => Ok(Value::Nil),
                }
            }
            ArgKind::Field(names) => {
                self.eval_field_chain(dot, dot.clone(), arg, names, std::slice::from_ref(arg), None)?
            }
            ArgKind::Variable(name, names) => self.eval_variable(dot, arg, name, names, &[], None)?,
            ArgKind::Pipe(p) => self.eval_pipeline(dot, p)?,
            ArgKind::Ident(name) => self.eval_function(dot, name, arg, at, std::slice::from_ref(arg), None)?,
            ArgKind::Chain(inner, names) => self.eval_chain(dot, arg, inner, names, &[], None)?,
            ArgKind::Bool(_) | ArgKind::Number(_) | ArgKind::Str { .. } => {
                return match (param, &arg.kind) {
                    (Param::Any, ArgKind::Bool(b)) => Ok(Value::Bool(*b)),
                    (Param::Any, ArgKind::Number(n)) => self.ideal_constant(arg, n),
                    (Param::Any | Param::Str, ArgKind::Str { text, .. }) => Ok(Value::Str(text.clone())),
                    (Param::Str, _) => Err(self.err(at, format!("expected string; found {arg}"))),
                    (p, _) => Err(self.err(at, format!("can't handle {arg} for arg of type {}", p.go_type()))),
                };
            }
        };
        self.validate(at, value, param)
    }

    /// Checks a computed value against a parameter type (Go's `validateType`).
    fn validate(&self, at: At<'_>, value: Value, param: Param) -> EResult<Value> {
        match (param, &value) {
            (Param::Any, _) | (Param::Str, Value::Str(_)) | (Param::Samples, Value::Samples(_)) => Ok(value),
            (Param::Sample, Value::Sample(_) | Value::Nil) => Ok(value),
            (Param::Samples, Value::Nil) => Ok(Value::no_samples()),
            (Param::Str, Value::Nil) => Err(self.err(at, "invalid value; expected string")),
            (p, v) => Err(self.err(at, format!("wrong type for value; expected {}; got {}", p.go_type(), v.go_type()))),
        }
    }

    /// `tmpl`: runs a named template and returns what it printed.
    pub(super) fn call_tmpl(&mut self, at: At<'_>, name: &str, dot: Value) -> Result<String, String> {
        if self.lookup(name).is_none() {
            return Err(format!("template: no template {name:?} associated with template {:?}", self.tmpl.name));
        }
        let mut out = String::new();
        self.run_named(at, name, dot, &mut out).map_err(|e| e.into_template_error(self.tmpl).to_string())?;
        Ok(out)
    }
}

/// The innermost node Go evaluates last for an operand (where it reports later errors).
fn last_evaluated(arg: &Arg) -> &Arg {
    match &arg.kind {
        ArgKind::Pipe(p) => match p.cmds.last() {
            Some(cmd) => last_evaluated(cmd.args.last().unwrap_or(arg)),
            None => arg,
        },
        ArgKind::Chain(inner, _) => last_evaluated(inner),
        _ => arg,
    }
}

fn lookup<'t>(tmpl: &'t Template, name: &str) -> Option<&'t [Node]> {
    match tmpl.defines.get(name) {
        Some(list) => Some(list),
        None if name == tmpl.name => Some(&tmpl.main),
        None => None,
    }
}

/// Prints an action's value as Go's `printValue` (pointers to structs are printed as the struct).
fn print_value(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("<no value>"),
        Value::Sample(s) => gofmt::write_sample_struct(out, s),
        v => out.push_str(&gofmt::sprint_one(v)),
    }
}
