//! Parses lexed items into a tree, as Go's `text/template/parse` does (same checks, same messages).

use std::collections::HashMap;
use std::fmt;

use super::funcs;
use super::lex::{lex, Item, Kind};
use super::TemplateError;

/// A node of a template's list.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    /// `{{pipeline}}`: printed unless it declares variables.
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    /// `{{template "name" pipeline}}` (also what `{{block}}` leaves in place).
    Template(TemplateCall),
    Break,
    Continue,
}

/// The pipeline, body and optional else of `if`, `with` and `range`.
#[derive(Debug, Clone)]
pub(super) struct Branch {
    pub(super) pipe: Pipe,
    pub(super) list: Vec<Node>,
    pub(super) else_list: Option<Vec<Node>>,
}

/// A call of a named template.
#[derive(Debug, Clone)]
pub(super) struct TemplateCall {
    pub(super) pos: usize,
    pub(super) name: String,
    pub(super) pipe: Option<Pipe>,
}

/// Commands joined by `|`, optionally declaring (`:=`) or assigning (`=`) variables.
#[derive(Debug, Clone)]
pub(super) struct Pipe {
    pub(super) pos: usize,
    pub(super) is_assign: bool,
    pub(super) decl: Vec<String>,
    pub(super) cmds: Vec<Command>,
}

/// An operand optionally followed by arguments.
#[derive(Debug, Clone)]
pub(super) struct Command {
    pub(super) pos: usize,
    pub(super) args: Vec<Arg>,
}

/// One operand of a command.
#[derive(Debug, Clone)]
pub(super) struct Arg {
    pub(super) pos: usize,
    pub(super) kind: ArgKind,
}

#[derive(Debug, Clone)]
pub(super) enum ArgKind {
    Dot,
    Nil,
    Bool(bool),
    Number(Number),
    /// A string literal as written and its value.
    Str {
        quoted: String,
        text: String,
    },
    /// `.A.B`: fields of dot.
    Field(Vec<String>),
    /// `$x.A.B`.
    Variable(String, Vec<String>),
    /// A function name.
    Ident(String),
    /// A parenthesized pipeline.
    Pipe(Box<Pipe>),
    /// Fields of another operand: `(pipeline).A.B`.
    Chain(Box<Arg>, Vec<String>),
}

/// A number literal with its integer and float readings, as Go's `NumberNode`.
#[derive(Debug, Clone)]
pub(super) struct Number {
    pub(super) text: String,
    pub(super) int: Option<i64>,
    pub(super) float: Option<f64>,
    pub(super) is_char: bool,
}

/// The parsed main template and the templates it defines.
pub(super) struct Parsed {
    pub(super) main: Vec<Node>,
    pub(super) defines: HashMap<String, Vec<Node>>,
}

/// Deepest nesting of control structures and parentheses accepted. Go has no limit, but parsing
/// and executing recurse, and real templates nest a few levels; this keeps any template well inside
/// a 2 MiB thread stack, even in debug builds.
const MAX_NESTING: usize = 50;

/// Parses template text named `name`.
pub(super) fn parse(name: &str, text: &str) -> Result<Parsed, TemplateError> {
    let mut p = Parser {
        items: lex(text),
        idx: 0,
        line: 1,
        vars: vec!["$".to_string()],
        range_depth: 0,
        nesting: 0,
        defines: HashMap::new(),
    };
    let result = p.parse_top().and_then(|main| {
        if let Some(def) = p.defines.get(name) {
            if !is_empty(def) && !is_empty(&main) {
                return Err(p.err(format!("template: multiple definition of template {name:?}")));
            }
        }
        Ok(main)
    });
    match result {
        Ok(main) => Ok(Parsed { main, defines: p.defines }),
        Err(e) => Err(TemplateError::Parse { name: name.to_string(), line: e.line, message: e.msg }),
    }
}

struct PErr {
    line: usize,
    msg: String,
}

type PResult<T> = Result<T, PErr>;

/// What `text_or_action` found: a node, or the `{{end}}`/`{{else}}` closing a list.
enum Elem {
    Node(Node),
    End,
    Else,
}

struct Parser {
    items: Vec<Item>,
    idx: usize,
    /// Line of the last item read, for error messages.
    line: usize,
    /// Variables in scope.
    vars: Vec<String>,
    range_depth: usize,
    nesting: usize,
    defines: HashMap<String, Vec<Node>>,
}

/// Whether a list holds nothing but space (such a definition may be replaced).
fn is_empty(list: &[Node]) -> bool {
    list.iter().all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

impl Parser {
    fn err(&self, msg: impl Into<String>) -> PErr {
        PErr { line: self.line, msg: msg.into() }
    }

    fn next(&mut self) -> PResult<Item> {
        let item = self.items[self.idx.min(self.items.len() - 1)].clone();
        self.idx += 1;
        self.line = item.line;
        if item.kind == Kind::Error {
            return Err(self.err(item.val));
        }
        Ok(item)
    }

    fn backup(&mut self) {
        self.idx -= 1;
    }

    fn peek(&mut self) -> PResult<Item> {
        let item = self.next()?;
        self.backup();
        Ok(item)
    }

    fn next_non_space(&mut self) -> PResult<Item> {
        loop {
            let item = self.next()?;
            if item.kind != Kind::Space {
                return Ok(item);
            }
        }
    }

    fn peek_non_space(&mut self) -> PResult<Item> {
        let item = self.next_non_space()?;
        self.backup();
        Ok(item)
    }

    fn expect(&mut self, kind: Kind, context: &str) -> PResult<Item> {
        let item = self.next_non_space()?;
        if item.kind != kind {
            return Err(self.unexpected(&item, context));
        }
        Ok(item)
    }

    fn unexpected(&self, item: &Item, context: &str) -> PErr {
        let desc = match item.kind {
            Kind::Eof => "EOF".to_string(),
            k if k.is_keyword() => format!("<{}>", item.val),
            _ if item.val.chars().count() > 10 => {
                format!("{:?}...", item.val.chars().take(10).collect::<String>())
            }
            _ => format!("{:?}", item.val),
        };
        self.err(format!("unexpected {desc} in {context}"))
    }

    fn enter(&mut self) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.err(format!("template nesting exceeds {MAX_NESTING} levels")));
        }
        Ok(())
    }

    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek()?.kind != Kind::Eof {
            if self.peek()?.kind == Kind::LeftDelim {
                let save = self.idx;
                self.next()?;
                if self.next_non_space()?.kind == Kind::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = save;
            }
            match self.text_or_action()? {
                Elem::Node(n) => root.push(n),
                Elem::End => return Err(self.err("unexpected {{end}}")),
                Elem::Else => return Err(self.err("unexpected {{else}}")),
            }
        }
        Ok(root)
    }

    /// `{{define "name"}}...{{end}}`, the `{{define` already read.
    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let token = self.next_non_space()?;
        let name = self.template_name(&token, CONTEXT)?;
        self.expect(Kind::RightDelim, CONTEXT)?;
        let list = self.separate_tree(CONTEXT)?;
        self.add_define(name, list)
    }

    /// The body of a `define` or `block`: a tree of its own, with only `$` in scope.
    fn separate_tree(&mut self, context: &str) -> PResult<Vec<Node>> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let range_depth = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        if let Elem::Else = end {
            return Err(self.err(format!("unexpected {{{{else}}}} in {context}")));
        }
        self.vars = vars;
        self.range_depth = range_depth;
        Ok(list)
    }

    fn add_define(&mut self, name: String, list: Vec<Node>) -> PResult<()> {
        match self.defines.get(&name) {
            Some(old) if !is_empty(old) && !is_empty(&list) => {
                Err(self.err(format!("template: multiple definition of template {name:?}")))
            }
            Some(old) if !is_empty(old) => Ok(()),
            _ => {
                self.defines.insert(name, list);
                Ok(())
            }
        }
    }

    fn template_name(&self, token: &Item, context: &str) -> PResult<String> {
        match token.kind {
            Kind::Str | Kind::RawStr => unquote(&token.val).map_err(|m| self.err(m)),
            _ => Err(self.unexpected(token, context)),
        }
    }

    fn text_or_action(&mut self) -> PResult<Elem> {
        let token = self.next_non_space()?;
        match token.kind {
            Kind::Text => Ok(Elem::Node(Node::Text(token.val))),
            Kind::LeftDelim => {
                self.enter()?;
                let elem = self.action();
                self.nesting -= 1;
                elem
            }
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    /// A list of nodes up to the `{{end}}` or `{{else}}` that closes it.
    fn item_list(&mut self) -> PResult<(Vec<Node>, Elem)> {
        let mut list = Vec::new();
        while self.peek_non_space()?.kind != Kind::Eof {
            match self.text_or_action()? {
                Elem::Node(n) => list.push(n),
                end => return Ok((list, end)),
            }
        }
        Err(self.err("unexpected EOF"))
    }

    /// The inside of `{{ }}`, the left delimiter already read. (Each clause has its own function to
    /// keep this recursive frame small.)
    fn action(&mut self) -> PResult<Elem> {
        match self.next_non_space()?.kind {
            Kind::Block => self.block_control(),
            Kind::Break => self.break_control(Node::Break, "{{break}}"),
            Kind::Continue => self.break_control(Node::Continue, "{{continue}}"),
            Kind::Else => self.else_control(),
            Kind::End => self.expect(Kind::RightDelim, "end").map(|_| Elem::End),
            Kind::If => self.control("if").map(|b| Elem::Node(Node::If(b))),
            Kind::Range => self.control("range").map(|b| Elem::Node(Node::Range(b))),
            Kind::With => self.control("with").map(|b| Elem::Node(Node::With(b))),
            Kind::Template => self.template_control(),
            _ => {
                self.backup();
                self.pipeline("command", Kind::RightDelim).map(|p| Elem::Node(Node::Action(p)))
            }
        }
    }

    fn break_control(&mut self, node: Node, word: &str) -> PResult<Elem> {
        if self.range_depth == 0 {
            return Err(self.err(format!("{word} outside {{{{range}}}}")));
        }
        self.expect(Kind::RightDelim, word)?;
        Ok(Elem::Node(node))
    }

    fn else_control(&mut self) -> PResult<Elem> {
        // `{{else if ...` and `{{else with ...` open a nested if/with needing no `{{end}}` of its own.
        if !matches!(self.peek_non_space()?.kind, Kind::If | Kind::With) {
            self.expect(Kind::RightDelim, "else")?;
        }
        Ok(Elem::Else)
    }

    fn template_control(&mut self) -> PResult<Elem> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space()?;
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = if self.next_non_space()?.kind == Kind::RightDelim {
            None
        } else {
            self.backup();
            Some(self.pipeline(CONTEXT, Kind::RightDelim)?)
        };
        Ok(Elem::Node(Node::Template(TemplateCall { pos: token.pos, name, pipe })))
    }

    /// `{{block "name" pipeline}}...{{end}}`: defines the template and calls it in place.
    fn block_control(&mut self) -> PResult<Elem> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space()?;
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, Kind::RightDelim)?;
        let list = self.separate_tree(CONTEXT)?;
        self.add_define(name.clone(), list)?;
        Ok(Elem::Node(Node::Template(TemplateCall { pos: token.pos, name, pipe: Some(pipe) })))
    }

    /// `if`, `range` or `with`: pipeline, list, optional else; variables declared end with it.
    fn control(&mut self, context: &str) -> PResult<Branch> {
        let vars = self.vars.len();
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        let is_range = context == "range";
        if is_range {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if is_range {
            self.range_depth -= 1;
        }
        let else_list = match next {
            Elem::Else => {
                let peek = self.peek()?.kind;
                if context == "if" && peek == Kind::If {
                    self.next()?;
                    Some(vec![Node::If(self.control("if")?)])
                } else if context == "with" && peek == Kind::With {
                    self.next()?;
                    Some(vec![Node::With(self.control("with")?)])
                } else {
                    let (list, end) = self.item_list()?;
                    if !matches!(end, Elem::End) {
                        return Err(self.err("expected end; found {{else}}"));
                    }
                    Some(list)
                }
            }
            _ => None,
        };
        self.vars.truncate(vars);
        Ok(Branch { pipe, list, else_list })
    }

    fn pipeline(&mut self, context: &str, end: Kind) -> PResult<Pipe> {
        self.enter()?;
        let pipe = self.pipeline_inner(context, end);
        self.nesting -= 1;
        pipe
    }

    fn pipeline_inner(&mut self, context: &str, end: Kind) -> PResult<Pipe> {
        let pos = self.peek_non_space()?.pos;
        let mut pipe = Pipe { pos, is_assign: false, decl: Vec::new(), cmds: Vec::new() };
        while self.peek_non_space()?.kind == Kind::Variable {
            let save = self.idx;
            let v = self.next()?;
            let next = self.peek_non_space()?;
            if matches!(next.kind, Kind::Assign | Kind::Declare) {
                pipe.is_assign = next.kind == Kind::Assign;
                self.next_non_space()?;
                pipe.decl.push(v.val.clone());
                self.vars.push(v.val);
            } else if next.kind == Kind::Char && next.val == "," {
                self.next_non_space()?;
                pipe.decl.push(v.val.clone());
                self.vars.push(v.val);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space()?.kind {
                        Kind::Variable | Kind::RightDelim | Kind::RightParen => continue,
                        _ => return Err(self.err("range can only initialize variables")),
                    }
                }
                return Err(self.err(format!("too many declarations in {context}")));
            } else {
                self.idx = save;
            }
            break;
        }
        loop {
            let token = self.next_non_space()?;
            if token.kind == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.kind {
                Kind::Bool
                | Kind::CharConstant
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawStr
                | Kind::Str
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&token, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.err(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0].kind,
                ArgKind::Bool(_) | ArgKind::Dot | ArgKind::Nil | ArgKind::Number(_) | ArgKind::Str { .. }
            ) {
                return Err(self.err(format!("non executable command in pipeline stage {}", i + 1)));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space()?.pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space()?;
            if let Some(operand) = self.operand()? {
                args.push(operand);
            }
            let token = self.next()?;
            match token.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return Err(self.unexpected(&token, "operand")),
            }
            break;
        }
        if args.is_empty() {
            return Err(self.err("empty command"));
        }
        Ok(Command { pos, args })
    }

    /// A term optionally followed by fields (`.A.B`) written right after it.
    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else { return Ok(None) };
        if self.peek()?.kind != Kind::Field {
            return Ok(Some(node));
        }
        let pos = self.peek()?.pos;
        let mut fields = Vec::new();
        while self.peek()?.kind == Kind::Field {
            fields.push(self.next()?.val[1..].to_string());
        }
        let kind = match node.kind {
            ArgKind::Field(mut f) => {
                f.extend(fields);
                ArgKind::Field(f)
            }
            ArgKind::Variable(name, mut f) => {
                f.extend(fields);
                ArgKind::Variable(name, f)
            }
            ArgKind::Bool(_) | ArgKind::Str { .. } | ArgKind::Number(_) | ArgKind::Nil | ArgKind::Dot => {
                return Err(self.err(format!("unexpected . after term {:?}", node.to_string())));
            }
            _ => ArgKind::Chain(Box::new(node), fields),
        };
        Ok(Some(Arg { pos, kind }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space()?;
        let kind = match token.kind {
            Kind::Identifier => {
                if funcs::signature(&token.val).is_none() {
                    return Err(self.err(format!("function {:?} not defined", token.val)));
                }
                ArgKind::Ident(token.val)
            }
            Kind::Dot => ArgKind::Dot,
            Kind::Nil => ArgKind::Nil,
            Kind::Variable => {
                if !self.vars.contains(&token.val) {
                    return Err(self.err(format!("undefined variable {:?}", token.val)));
                }
                ArgKind::Variable(token.val, Vec::new())
            }
            Kind::Field => ArgKind::Field(vec![token.val[1..].to_string()]),
            Kind::Bool => ArgKind::Bool(token.val == "true"),
            Kind::Number | Kind::CharConstant => ArgKind::Number(self.number(&token)?),
            Kind::LeftParen => ArgKind::Pipe(Box::new(self.pipeline("parenthesized pipeline", Kind::RightParen)?)),
            Kind::Str | Kind::RawStr => {
                let text = unquote(&token.val).map_err(|m| self.err(m))?;
                ArgKind::Str { quoted: token.val, text }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        };
        Ok(Some(Arg { pos: token.pos, kind }))
    }

    fn number(&self, token: &Item) -> PResult<Number> {
        let text = token.val.clone();
        if token.kind == Kind::CharConstant {
            let c = unquote(&text).map_err(|m| self.err(m))?;
            let mut chars = c.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) => {
                    Ok(Number { text, int: Some(c as i64), float: Some(f64::from(c as u32)), is_char: true })
                }
                _ => Err(self.err(format!("malformed character constant: {text}"))),
            };
        }
        if text.ends_with('i') {
            return Err(self.err(format!("complex number {text} is not supported")));
        }
        let wide = parse_go_int(&text);
        let mut int = wide.and_then(|i| i64::try_from(i).ok());
        // Integers too big for int64 but fitting uint64 fail only when executed ("overflows int").
        let mut float = wide.filter(|i| u64::try_from(*i).is_ok() || int.is_some()).map(|i| i as f64);
        if float.is_none() {
            if let Some(f) = parse_go_float(&text) {
                if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                    return Err(self.err(format!("integer overflow: {text:?}")));
                }
                float = Some(f);
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    int = Some(f as i64);
                }
            }
        }
        if int.is_none() && float.is_none() {
            return Err(self.err(format!("illegal number syntax: {text:?}")));
        }
        Ok(Number { text, int, float, is_char: false })
    }
}

/// An integer literal with Go's base prefixes and underscores (`strconv.ParseInt(text, 0, ..)`).
fn parse_go_int(text: &str) -> Option<i128> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    let digits = digits.replace('_', "");
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let v = i128::from_str_radix(&digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

/// A decimal float literal (hexadecimal floats are not supported).
fn parse_go_float(text: &str) -> Option<f64> {
    let t = text.replace('_', "");
    if t.to_ascii_lowercase().contains(['x', 'i', 'n']) {
        return None;
    }
    t.parse::<f64>().ok()
}

/// A Go string, raw string or character literal's value (`strconv.Unquote`).
pub(super) fn unquote(s: &str) -> Result<String, String> {
    let syntax = || "invalid syntax".to_string();
    let (Some(q), true) = (s.chars().next(), s.len() >= 2) else { return Err(syntax()) };
    if !s.ends_with(q) {
        return Err(syntax());
    }
    let body = &s[1..s.len() - 1];
    if q == '`' {
        return Ok(body.replace('\r', ""));
    }
    let mut bytes = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            if c == q {
                return Err(syntax());
            }
            bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            continue;
        }
        let e = chars.next().ok_or_else(syntax)?;
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '\'' | '"' if e == q => Some(e as u8),
            _ => None,
        };
        if let Some(b) = simple {
            bytes.push(b);
            continue;
        }
        let mut take = |n: usize, radix: u32| -> Result<u32, String> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.len() != n {
                return Err(syntax());
            }
            u32::from_str_radix(&digits, radix).map_err(|_| syntax())
        };
        match e {
            'x' => bytes.push(take(2, 16)? as u8),
            '0'..='7' => {
                let rest = take(2, 8)?;
                let v = e.to_digit(8).unwrap_or(0) * 64 + rest;
                bytes.push(u8::try_from(v).map_err(|_| syntax())?);
            }
            'u' | 'U' => {
                let c = char::from_u32(take(if e == 'u' { 4 } else { 8 }, 16)?).ok_or_else(syntax)?;
                bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            }
            _ => return Err(syntax()),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ArgKind::Dot => f.write_str("."),
            ArgKind::Nil => f.write_str("nil"),
            ArgKind::Bool(b) => write!(f, "{b}"),
            ArgKind::Number(n) => f.write_str(&n.text),
            ArgKind::Str { quoted, .. } => f.write_str(quoted),
            ArgKind::Field(names) => names.iter().try_for_each(|n| write!(f, ".{n}")),
            ArgKind::Variable(name, names) => {
                f.write_str(name)?;
                names.iter().try_for_each(|n| write!(f, ".{n}"))
            }
            ArgKind::Ident(name) => f.write_str(name),
            ArgKind::Pipe(p) => write!(f, "({p})"),
            ArgKind::Chain(node, names) => {
                write!(f, "{node}")?;
                names.iter().try_for_each(|n| write!(f, ".{n}"))
            }
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, l: &[Node]| l.iter().try_for_each(|n| write!(f, "{n}"));
        let branch = |f: &mut fmt::Formatter<'_>, word: &str, b: &Branch| {
            write!(f, "{{{{{word} {}}}}}", b.pipe)?;
            list(f, &b.list)?;
            if let Some(e) = &b.else_list {
                f.write_str("{{else}}")?;
                list(f, e)?;
            }
            f.write_str("{{end}}")
        };
        match self {
            Node::Text(t) => f.write_str(t),
            Node::Action(p) => write!(f, "{{{{{p}}}}}"),
            Node::If(b) => branch(f, "if", b),
            Node::With(b) => branch(f, "with", b),
            Node::Range(b) => branch(f, "range", b),
            Node::Template(t) => {
                write!(f, "{{{{template {:?}", t.name)?;
                if let Some(p) = &t.pipe {
                    write!(f, " {p}")?;
                }
                f.write_str("}}")
            }
            Node::Break => f.write_str("{{break}}"),
            Node::Continue => f.write_str("{{continue}}"),
        }
    }
}
