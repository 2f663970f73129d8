//! Go `text/template` as ClusterLoader2 uses it: actions with trim markers
//! and comments, pipelines, variables (`:=`, `=`), `if`/`else if`/`range`/
//! `with`, fields of maps (a missing key is `nil`, printed `<no value>`),
//! Go's builtins (`and`, `or`, `not`, `eq`…`ge`, `len`, `index`, `print`,
//! `printf`, `println`) and ClusterLoader2's functions
//! (`pkg/config/template_functions.go`). Values keep Go's int / float64
//! distinction, so `DivideInt 7 2` prints `3` and `DivideFloat 7 2` `3.5`.
//!
//! Parsing and evaluation are pure; `IncludeFile`, `IncludeEmbedFile` and
//! `ExpandEnv` read files and the environment through [`Funcs`].

use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A template value: what Go's `interface{}` holds in a CL2 mapping.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// Go's truth: false, 0, nil and empty things are false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
        }
    }

    /// From YAML (overrides files, module params, templateFillMap).
    pub fn from_yaml(v: &serde_yaml::Value) -> Value {
        use serde_yaml::Value as Y;
        match v {
            Y::Null => Value::Nil,
            Y::Bool(b) => Value::Bool(*b),
            Y::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            Y::String(s) => Value::Str(s.clone()),
            Y::Sequence(s) => Value::List(s.iter().map(Value::from_yaml).collect()),
            Y::Mapping(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (yaml_key(k), Value::from_yaml(v)))
                    .collect(),
            ),
            Y::Tagged(t) => Value::from_yaml(&t.value),
        }
    }

    /// A `--param` / `CL2_*` string, typed as ClusterLoader2's
    /// `unpackStringValue`: int, else float, else bool, else string.
    pub fn from_param(s: &str) -> Value {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Int(i);
        }
        if let Ok(f) = s.parse::<f64>() {
            if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) {
                return Value::Float(f);
            }
        }
        match s {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Value::Bool(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Value::Bool(false),
            _ => Value::Str(s.to_string()),
        }
    }
}

fn yaml_key(k: &serde_yaml::Value) -> String {
    match k {
        serde_yaml::Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Go's `%g` with the shortest precision (what `%v` prints for float64).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits; %g uses the
    // exponent form when the exponent is < -4 or >= 6 (the shortest
    // precision's threshold), e.g. 1e+06.
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

impl fmt::Display for Value {
    /// Go's `%v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("<no value>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&format_float(*x)),
            Value::Str(s) => f.write_str(s),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("map[")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// A template error: where, which expression, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {reason}{}", if expr.is_empty() { String::new() } else { format!(" (in {{{{{expr}}}}})") })]
pub struct TemplateError {
    pub file: String,
    pub line: usize,
    pub expr: String,
    pub reason: String,
}

// ---------------------------------------------------------------- lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `.A.B` (empty for `.`).
    Field(Vec<String>),
    /// `$x.A.B` (`$` alone is the name "").
    Var(String, Vec<String>),
    Str(String),
    Int(i64),
    Float(f64),
    LParen,
    RParen,
    /// `(...)` followed by `.A.B`.
    FieldAfterParen(Vec<String>),
    Pipe,
    Declare,
    Assign,
    Comma,
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn fields(s: &str, i: &mut usize) -> Vec<String> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    while *i < b.len() && b[*i] == '.' {
        let start = *i + 1;
        let mut j = start;
        while j < b.len() && is_ident_char(b[j]) {
            j += 1;
        }
        if j == start {
            break;
        }
        out.push(b[start..j].iter().collect());
        *i = j;
    }
    out
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let b: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
                if i < b.len() && b[i] == '.' {
                    let rest: String = b[i..].iter().collect();
                    let mut k = 0;
                    let f = fields(&rest, &mut k);
                    i += rest[..k].chars().count();
                    out.push(Tok::FieldAfterParen(f));
                }
            }
            '|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            ':' if b.get(i + 1) == Some(&'=') => {
                out.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                out.push(Tok::Assign);
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err("unterminated quoted string".into()),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let e = b.get(i + 1).copied().unwrap_or('\\');
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                other => other,
                            });
                            i += 2;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '`' => {
                let start = i + 1;
                let end = b[start..]
                    .iter()
                    .position(|&ch| ch == '`')
                    .ok_or("unterminated raw quoted string")?;
                out.push(Tok::Str(b[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            '.' if !b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                let rest: String = b[i..].iter().collect();
                let mut k = 0;
                let f = fields(&rest, &mut k);
                if f.is_empty() {
                    i += 1;
                } else {
                    i += rest[..k].chars().count();
                }
                out.push(Tok::Field(f));
            }
            '$' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && is_ident_char(b[j]) {
                    j += 1;
                }
                let name: String = b[start..j].iter().collect();
                let rest: String = b[j..].iter().collect();
                let mut k = 0;
                let f = fields(&rest, &mut k);
                i = j + rest[..k].chars().count();
                out.push(Tok::Var(name, f));
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && b.get(i + 1)
                        .is_some_and(|d| d.is_ascii_digit() || *d == '.')) =>
            {
                let start = i;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == '.'
                        || b[i] == '_'
                        || ((b[i] == '-' || b[i] == '+') && matches!(b[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                let text: String = b[start..i].iter().filter(|c| **c != '_').collect();
                let (neg, body) = match text.strip_prefix('-') {
                    Some(r) => (true, r.to_string()),
                    None => (false, text.trim_start_matches('+').to_string()),
                };
                let parsed = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
                    i64::from_str_radix(h, 16).ok().map(Tok::Int)
                } else if body.contains(['.', 'e', 'E']) {
                    body.parse::<f64>().ok().map(Tok::Float)
                } else {
                    body.parse::<i64>().ok().map(Tok::Int)
                };
                match parsed {
                    Some(Tok::Int(n)) => out.push(Tok::Int(if neg { -n } else { n })),
                    Some(Tok::Float(f)) => out.push(Tok::Float(if neg { -f } else { f })),
                    _ => return Err(format!("bad number syntax: {text:?}")),
                }
            }
            c if is_ident_char(c) => {
                let start = i;
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                out.push(Tok::Ident(b[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- parsing

#[derive(Debug, Clone)]
enum Arg {
    Lit(Value),
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Sub(Box<Pipeline>, Vec<String>),
}

#[derive(Debug, Clone)]
struct Command {
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
struct Pipeline {
    /// Declared / assigned variables and whether it is `:=`.
    vars: Vec<String>,
    declare: bool,
    cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
struct Pos {
    line: usize,
    expr: String,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pos, Pipeline),
    If(Pos, Pipeline, Vec<Node>, Vec<Node>),
    With(Pos, Pipeline, Vec<Node>, Vec<Node>),
    Range(Pos, Pipeline, Vec<Node>, Vec<Node>),
}

struct PipeParser {
    toks: Vec<Tok>,
    i: usize,
}

impl PipeParser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    fn pipeline(&mut self, allow_decl: bool) -> Result<Pipeline, String> {
        let mut p = Pipeline {
            vars: Vec::new(),
            declare: false,
            cmds: Vec::new(),
        };
        if allow_decl {
            // `$x :=`, `$x =`, `$i, $v :=`
            let mut j = self.i;
            let mut vars = Vec::new();
            while let Some(Tok::Var(n, f)) = self.toks.get(j) {
                if !f.is_empty() {
                    break;
                }
                vars.push(n.clone());
                j += 1;
                if self.toks.get(j) == Some(&Tok::Comma) {
                    j += 1;
                } else {
                    break;
                }
            }
            match self.toks.get(j) {
                Some(Tok::Declare) if !vars.is_empty() => {
                    p.vars = vars;
                    p.declare = true;
                    self.i = j + 1;
                }
                Some(Tok::Assign) if vars.len() == 1 => {
                    p.vars = vars;
                    self.i = j + 1;
                }
                _ => {}
            }
        }
        loop {
            let cmd = self.command()?;
            if cmd.args.is_empty() {
                return Err("missing value for command".into());
            }
            p.cmds.push(cmd);
            match self.peek() {
                Some(Tok::Pipe) => self.i += 1,
                _ => break,
            }
        }
        Ok(p)
    }

    fn command(&mut self) -> Result<Command, String> {
        let mut args = Vec::new();
        while let Some(t) = self.peek().cloned() {
            let a = match t {
                Tok::Pipe | Tok::RParen => break,
                Tok::Ident(n) => match n.as_str() {
                    "true" => Arg::Lit(Value::Bool(true)),
                    "false" => Arg::Lit(Value::Bool(false)),
                    "nil" => Arg::Lit(Value::Nil),
                    _ => Arg::Func(n),
                },
                Tok::Field(f) => Arg::Field(f),
                Tok::Var(n, f) => Arg::Var(n, f),
                Tok::Str(s) => Arg::Lit(Value::Str(s)),
                Tok::Int(i) => Arg::Lit(Value::Int(i)),
                Tok::Float(f) => Arg::Lit(Value::Float(f)),
                Tok::LParen => {
                    self.i += 1;
                    let inner = self.pipeline(true)?;
                    if self.peek() != Some(&Tok::RParen) {
                        return Err("unclosed left paren".into());
                    }
                    let mut after = Vec::new();
                    if let Some(Tok::FieldAfterParen(f)) = self.toks.get(self.i + 1) {
                        after = f.clone();
                        self.i += 1;
                    }
                    Arg::Sub(Box::new(inner), after)
                }
                other => return Err(format!("unexpected {other:?} in command")),
            };
            self.i += 1;
            args.push(a);
        }
        Ok(Command { args })
    }
}

fn parse_pipeline(src: &str, allow_decl: bool) -> Result<Pipeline, String> {
    let toks = lex(src)?;
    let mut p = PipeParser { toks, i: 0 };
    let pipe = p.pipeline(allow_decl)?;
    if p.i != p.toks.len() {
        return Err(format!("unexpected {:?} after the pipeline", p.toks[p.i]));
    }
    Ok(pipe)
}

/// One `{{...}}` or text piece, with trim markers applied.
enum Piece {
    Text(String),
    Action(usize, String),
}

fn split(src: &str) -> Result<Vec<Piece>, (usize, String)> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut line = 1;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let trim_left = after.starts_with("- ")
            || after.starts_with("-\t")
            || after.starts_with("-\n")
            || after.starts_with("-\r");
        if trim_left {
            text = text.trim_end();
        }
        line += rest[..start].matches('\n').count();
        out.push(Piece::Text(text.to_string()));
        let inner_start = if trim_left { 1 } else { 0 };
        let body = &after[inner_start..];
        // A comment may contain "}}" only in its closing "*/}}".
        let end = if body.trim_start().starts_with("/*") {
            body.find("*/")
                .and_then(|c| body[c..].find("}}").map(|e| c + e))
        } else {
            find_close(body)
        };
        let Some(end) = end else {
            return Err((line, "unclosed action".into()));
        };
        let mut inner = &body[..end];
        trim_next = false;
        if inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-") {
            inner = &inner[..inner.len() - 1];
            trim_next = true;
        }
        out.push(Piece::Action(line, inner.trim().to_string()));
        line += body[..end].matches('\n').count();
        rest = &body[end + 2..];
    }
    let mut text = rest;
    if trim_next {
        text = text.trim_start();
    }
    out.push(Piece::Text(text.to_string()));
    Ok(out)
}

/// The `}}` closing an action, skipping quoted strings.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i + 1 < b.len() || (quote.is_none() && i < b.len()) {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' && q == b'"' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == b'"' || c == b'`' {
                    quote = Some(c);
                } else if c == b'}' && b.get(i + 1) == Some(&b'}') {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    nodes: Vec<Node>,
}

enum Stop {
    Eof,
    End,
    Else(usize, String),
}

struct TreeParser<'a> {
    name: &'a str,
    pieces: std::vec::IntoIter<Piece>,
}

impl TreeParser<'_> {
    fn err(&self, line: usize, expr: &str, reason: impl Into<String>) -> TemplateError {
        TemplateError {
            file: self.name.to_string(),
            line,
            expr: expr.to_string(),
            reason: reason.into(),
        }
    }

    fn list(&mut self) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mut nodes = Vec::new();
        while let Some(p) = self.pieces.next() {
            let (line, a) = match p {
                Piece::Text(t) => {
                    if !t.is_empty() {
                        nodes.push(Node::Text(t));
                    }
                    continue;
                }
                Piece::Action(l, a) => (l, a),
            };
            if a.starts_with("/*") {
                continue;
            }
            let (word, rest) = match a.split_once(|c: char| c.is_whitespace()) {
                Some((w, r)) => (w, r.trim()),
                None => (a.as_str(), ""),
            };
            let pos = Pos {
                line,
                expr: a.clone(),
            };
            match word {
                "end" => return Ok((nodes, Stop::End)),
                "else" => return Ok((nodes, Stop::Else(line, rest.to_string()))),
                "if" | "with" | "range" => {
                    let pipe = parse_pipeline(rest, true).map_err(|e| self.err(line, &a, e))?;
                    let node = self.control(word, pos, pipe)?;
                    nodes.push(node);
                }
                "define" | "template" | "block" | "break" | "continue" => {
                    return Err(self.err(
                        line,
                        &a,
                        format!("{{{{{word}}}}} is not supported by kubemark's template engine"),
                    ));
                }
                _ => {
                    let pipe = parse_pipeline(&a, true).map_err(|e| self.err(line, &a, e))?;
                    nodes.push(Node::Action(pos, pipe));
                }
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn control(&mut self, word: &str, pos: Pos, pipe: Pipeline) -> Result<Node, TemplateError> {
        let (body, end) = self.list()?;
        let els = match end {
            Stop::Eof => {
                return Err(self.err(pos.line, &pos.expr, "unexpected EOF: missing {{end}}"))
            }
            Stop::End => Vec::new(),
            Stop::Else(line, rest) if rest.is_empty() => {
                let (els, end) = self.list()?;
                if !matches!(end, Stop::End) {
                    return Err(self.err(line, "else", "expected {{end}} after {{else}}"));
                }
                els
            }
            Stop::Else(line, rest) => {
                // `else if ...` / `else with ...`: a nested control sharing our {{end}}.
                let (w, r) = rest
                    .split_once(|c: char| c.is_whitespace())
                    .unwrap_or((&rest, ""));
                if w != "if" && w != "with" {
                    return Err(self.err(
                        line,
                        &format!("else {rest}"),
                        "expected if or with after else",
                    ));
                }
                let expr = format!("else {rest}");
                let inner = parse_pipeline(r.trim(), true).map_err(|e| self.err(line, &expr, e))?;
                vec![self.control(w, Pos { line, expr }, inner)?]
            }
        };
        Ok(match word {
            "if" => Node::If(pos, pipe, body, els),
            "with" => Node::With(pos, pipe, body, els),
            _ => Node::Range(pos, pipe, body, els),
        })
    }
}

impl Template {
    /// Parses `src`; `name` (the file) is used in errors.
    pub fn parse(name: &str, src: &str) -> Result<Template, TemplateError> {
        let pieces = split(src).map_err(|(line, reason)| TemplateError {
            file: name.to_string(),
            line,
            expr: String::new(),
            reason,
        })?;
        let mut p = TreeParser {
            name,
            pieces: pieces.into_iter(),
        };
        let (nodes, end) = p.list()?;
        match end {
            Stop::Eof => Ok(Template {
                name: name.to_string(),
                nodes,
            }),
            Stop::End => Err(p.err(0, "end", "unexpected {{end}}")),
            Stop::Else(l, _) => Err(p.err(l, "else", "unexpected {{else}}")),
        }
    }

    /// Executes with `data` as `.` and `$`.
    pub fn execute(&self, data: &Value, funcs: &Funcs) -> Result<String, TemplateError> {
        let mut ex = Exec {
            name: &self.name,
            funcs,
            vars: vec![(String::new(), data.clone())],
            out: String::new(),
        };
        ex.walk(&self.nodes, data)?;
        Ok(ex.out)
    }
}

/// Parses and executes in one go.
pub fn render(name: &str, src: &str, data: &Value, funcs: &Funcs) -> Result<String, TemplateError> {
    Template::parse(name, src)?.execute(data, funcs)
}

// ---------------------------------------------------------------- functions

/// What the functions may reach: the directory `IncludeFile` and
/// `IncludeEmbedFile` read from, the environment, and the random source.
pub struct Funcs {
    pub base_dir: PathBuf,
    pub env: BTreeMap<String, String>,
    rng: std::cell::RefCell<rand::rngs::StdRng>,
}

impl Funcs {
    pub fn new(base_dir: PathBuf, env: BTreeMap<String, String>, seed: u64) -> Funcs {
        Funcs {
            base_dir,
            env,
            rng: std::cell::RefCell::new(rand::rngs::StdRng::seed_from_u64(seed)),
        }
    }

    fn read(&self, path: &str) -> Result<String, String> {
        let p = std::path::Path::new(path);
        let full = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        };
        std::fs::read_to_string(&full)
            .map_err(|e| format!("unable to read file {}: {e}", full.display()))
    }

    fn expand_env(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, len) = if let Some(r) = after.strip_prefix('{') {
                match r.find('}') {
                    Some(e) => (&r[..e], e + 2),
                    None => ("", 0),
                }
            } else {
                let n = after
                    .find(|c: char| !is_ident_char(c))
                    .unwrap_or(after.len());
                (&after[..n], n)
            };
            out.push_str(self.env.get(name).map(String::as_str).unwrap_or(""));
            rest = &after[len..];
            if len == 0 {
                out.push('$');
            }
        }
        out.push_str(rest);
        out
    }
}

fn num(v: &Value) -> Result<f64, String> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::Str(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("cannot cast {s} to float64")),
        other => Err(format!(
            "cannot cast {other} ({}) to float64",
            other.type_name()
        )),
    }
}

/// Go's int(float64): truncation toward zero.
fn to_int(f: f64) -> Value {
    Value::Int(f.trunc() as i64)
}

fn want(args: &[Value], n: usize, name: &str) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn cmp_values(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        // Go refuses int vs float; overrides files give float64 where a
        // config compares with an int literal, so compare by value.
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            Ok(num(a)?.partial_cmp(&num(b)?).unwrap_or(Ordering::Equal))
        }
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        _ => Err(format!(
            "incompatible types for comparison: {} and {}",
            a.type_name(),
            b.type_name()
        )),
    }
}

fn values_eq(a: &Value, b: &Value) -> Result<bool, String> {
    match (a, b) {
        (Value::Nil, Value::Nil) => Ok(true),
        (Value::Nil, _) | (_, Value::Nil) => Ok(false),
        _ => Ok(cmp_values(a, b)? == std::cmp::Ordering::Equal),
    }
}

/// YAML-quotes `s` as yaml.v2 would marshal it (plain when safe, a
/// literal block for multi-line text, single quotes otherwise, double
/// quotes where a plain scalar would be read as another type).
fn yaml_quote(s: &str, tabs: i64) -> String {
    let looks_typed = matches!(
        serde_yaml::from_str::<serde_yaml::Value>(s),
        Ok(serde_yaml::Value::Bool(_) | serde_yaml::Value::Number(_) | serde_yaml::Value::Null)
    );
    let out = if s.contains('\n') {
        let mut o = String::from("|");
        if !s.ends_with('\n') {
            o.push('-');
        }
        for l in s.trim_end_matches('\n').split('\n') {
            o.push_str("\n  ");
            o.push_str(l);
        }
        o.push('\n');
        o
    } else if s.is_empty() || looks_typed {
        format!("{:?}\n", s)
    } else if s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #")
    {
        format!("'{}'\n", s.replace('\'', "''"))
    } else {
        format!("{s}\n")
    };
    out.replace('\n', &format!("\n{}", "  ".repeat(tabs.max(0) as usize)))
}

fn printf(args: &[Value]) -> Result<String, String> {
    let Some(Value::Str(fmt)) = args.first() else {
        return Err("printf: the first argument must be a format string".into());
    };
    let mut out = String::new();
    let mut rest = args[1..].iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_digit() || n == '.' || n == '-' || n == '+' || n == '0' {
                spec.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(v) = rest.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let prec: Option<usize> = spec.split_once('.').and_then(|(_, p)| p.parse().ok());
        let s = match verb {
            'd' => format!("{}", num(v)? as i64),
            'f' => format!("{:.*}", prec.unwrap_or(6), num(v)?),
            'q' => format!("{:?}", v.to_string()),
            _ => v.to_string(),
        };
        let width: usize = spec
            .split('.')
            .next()
            .unwrap_or("")
            .trim_start_matches(['-', '+', '0'])
            .parse()
            .unwrap_or(0);
        if s.chars().count() < width {
            let pad = " ".repeat(width - s.chars().count());
            if spec.starts_with('-') {
                out.push_str(&s);
                out.push_str(&pad);
            } else {
                out.push_str(&pad);
                out.push_str(&s);
            }
        } else {
            out.push_str(&s);
        }
    }
    Ok(out)
}

impl Funcs {
    /// Calls function `name` (Go builtin or ClusterLoader2's).
    fn call(&self, name: &str, a: &[Value]) -> Result<Value, String> {
        let nums = |a: &[Value]| a.iter().map(num).collect::<Result<Vec<f64>, String>>();
        Ok(match name {
            "not" => {
                want(a, 1, name)?;
                Value::Bool(!a[0].truth())
            }
            "eq" => {
                if a.len() < 2 {
                    return Err("missing argument for comparison".into());
                }
                let mut any = false;
                for b in &a[1..] {
                    any |= values_eq(&a[0], b)?;
                }
                Value::Bool(any)
            }
            "ne" => {
                want(a, 2, name)?;
                Value::Bool(!values_eq(&a[0], &a[1])?)
            }
            "lt" | "le" | "gt" | "ge" => {
                want(a, 2, name)?;
                let o = cmp_values(&a[0], &a[1])?;
                use std::cmp::Ordering::*;
                Value::Bool(match name {
                    "lt" => o == Less,
                    "le" => o != Greater,
                    "gt" => o == Greater,
                    _ => o != Less,
                })
            }
            "len" => {
                want(a, 1, name)?;
                Value::Int(match &a[0] {
                    Value::Str(s) => s.len() as i64,
                    Value::List(l) => l.len() as i64,
                    Value::Map(m) => m.len() as i64,
                    other => return Err(format!("len of {}", other.type_name())),
                })
            }
            "index" => {
                let mut v = a.first().cloned().ok_or("index of nothing")?;
                for k in &a[1..] {
                    v = match (&v, k) {
                        (Value::List(l), _) => {
                            let i = num(k)? as i64;
                            l.get(
                                usize::try_from(i)
                                    .map_err(|_| format!("index out of range: {i}"))?,
                            )
                            .cloned()
                            .ok_or(format!("index out of range: {i}"))?
                        }
                        (Value::Map(m), Value::Str(s)) => m.get(s).cloned().unwrap_or(Value::Nil),
                        _ => return Err(format!("can't index item of type {}", v.type_name())),
                    };
                }
                v
            }
            "print" => Value::Str(a.iter().map(Value::to_string).collect::<Vec<_>>().join("")),
            "println" => Value::Str(format!(
                "{}\n",
                a.iter().map(Value::to_string).collect::<Vec<_>>().join(" ")
            )),
            "printf" => Value::Str(printf(a)?),
            // ClusterLoader2's template_functions.go.
            "AddInt" => to_int(nums(a)?.iter().sum()),
            "AddFloat" => Value::Float(nums(a)?.iter().sum()),
            "SubtractInt" | "SubtractFloat" => {
                want(a, 2, name)?;
                let d = num(&a[0])? - num(&a[1])?;
                if name == "SubtractInt" {
                    to_int(d)
                } else {
                    Value::Float(d)
                }
            }
            "MultiplyInt" => to_int(nums(a)?.iter().product()),
            "MultiplyFloat" => Value::Float(nums(a)?.iter().product()),
            "DivideInt" | "DivideFloat" => {
                want(a, 2, name)?;
                let (x, y) = (num(&a[0])?, num(&a[1])?);
                if y == 0.0 {
                    return Err("division by zero".into());
                }
                if name == "DivideInt" {
                    to_int(x / y)
                } else {
                    Value::Float(x / y)
                }
            }
            "MaxInt" | "MaxFloat" | "MinInt" | "MinFloat" => {
                let n = nums(a)?;
                if n.is_empty() {
                    return Err(format!(
                        "{name}: {} undefined",
                        if name.starts_with("Max") {
                            "maximum"
                        } else {
                            "minimum"
                        }
                    ));
                }
                let r = if name.starts_with("Max") {
                    n.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                } else {
                    n.iter().copied().fold(f64::INFINITY, f64::min)
                };
                if name.ends_with("Int") {
                    to_int(r)
                } else {
                    Value::Float(r)
                }
            }
            "Mod" => {
                want(a, 2, name)?;
                let (x, y) = (num(&a[0])? as i64, num(&a[1])? as i64);
                if y == 0 {
                    return Err("integer divide by zero".into());
                }
                Value::Int(x % y)
            }
            "Ceil" => {
                want(a, 1, name)?;
                Value::Float(num(&a[0])?.ceil())
            }
            "DefaultParam" => {
                want(a, 2, name)?;
                if a[0] == Value::Nil {
                    a[1].clone()
                } else {
                    a[0].clone()
                }
            }
            "IfThenElse" => {
                want(a, 3, name)?;
                match &a[0] {
                    Value::Bool(true) => a[1].clone(),
                    Value::Bool(false) => a[2].clone(),
                    other => {
                        return Err(format!(
                            "incorrect argument type: got: {} want: bool",
                            other.type_name()
                        ))
                    }
                }
            }
            "Seq" | "SliceOfZeros" => {
                want(a, 1, name)?;
                Value::List(vec![Value::Int(0); num(&a[0])?.max(0.0) as usize])
            }
            "Loop" => {
                want(a, 1, name)?;
                Value::List((0..num(&a[0])?.max(0.0) as i64).map(Value::Int).collect())
            }
            "RandInt" => {
                want(a, 1, name)?;
                let n = num(&a[0])? as i64;
                if n < 0 {
                    return Err(format!("RandInt: invalid argument {n}"));
                }
                Value::Int(self.rng.borrow_mut().gen_range(0..=n))
            }
            "RandIntRange" => {
                want(a, 2, name)?;
                let (i, j) = (num(&a[0])? as i64, num(&a[1])? as i64);
                Value::Int(if i >= j {
                    i
                } else {
                    self.rng.borrow_mut().gen_range(i..=j)
                })
            }
            "RandData" => {
                want(a, 1, name)?;
                const ALPHABET: &[u8] =
                    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
                let n = num(&a[0])?.max(0.0) as usize;
                let mut rng = self.rng.borrow_mut();
                Value::Str(
                    (0..n)
                        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                        .collect(),
                )
            }
            "YamlQuote" => {
                want(a, 2, name)?;
                let Value::Str(s) = &a[0] else {
                    return Err(format!(
                        "incorrect argument type: got: {} want: string",
                        a[0].type_name()
                    ));
                };
                let Value::Int(t) = &a[1] else {
                    return Err(format!(
                        "incorrect argument type: got: {} want: int",
                        a[1].type_name()
                    ));
                };
                Value::Str(yaml_quote(s, *t))
            }
            "IncludeFile" | "IncludeEmbedFile" | "IncludeEmbeddedFile" => {
                want(a, 1, name)?;
                let Value::Str(p) = &a[0] else {
                    return Err(format!(
                        "incorrect argument type: got: {} want: string",
                        a[0].type_name()
                    ));
                };
                let p = if name == "IncludeFile" {
                    self.expand_env(p)
                } else {
                    p.clone()
                };
                Value::Str(self.read(&p)?)
            }
            "ExpandEnv" => {
                want(a, 1, name)?;
                Value::Str(self.expand_env(&a[0].to_string()))
            }
            "Lowercase" => {
                want(a, 1, name)?;
                Value::Str(a[0].to_string().to_lowercase())
            }
            "StringSplit" => {
                want(a, 1, name)?;
                Value::List(
                    a[0].to_string()
                        .split(',')
                        .map(|s| Value::Str(s.to_string()))
                        .collect(),
                )
            }
            _ => return Err(format!("function {name:?} not defined")),
        })
    }
}

// ---------------------------------------------------------------- execution

struct Exec<'a> {
    name: &'a str,
    funcs: &'a Funcs,
    vars: Vec<(String, Value)>,
    out: String,
}

impl Exec<'_> {
    fn err(&self, pos: &Pos, reason: String) -> TemplateError {
        TemplateError {
            file: self.name.to_string(),
            line: pos.line,
            expr: pos.expr.clone(),
            reason,
        }
    }

    fn walk(&mut self, nodes: &[Node], dot: &Value) -> Result<(), TemplateError> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(pos, p) => {
                    let v = self.pipeline(p, dot).map_err(|e| self.err(pos, e))?;
                    if p.vars.is_empty() {
                        self.out.push_str(&v.to_string());
                    }
                }
                Node::If(pos, p, body, els) | Node::With(pos, p, body, els) => {
                    let mark = self.vars.len();
                    let v = self.pipeline(p, dot).map_err(|e| self.err(pos, e))?;
                    let with = matches!(n, Node::With(..));
                    if v.truth() {
                        let d = if with { v } else { dot.clone() };
                        self.walk(body, &d)?;
                    } else {
                        self.walk(els, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(pos, p, body, els) => {
                    let mark = self.vars.len();
                    let inner = Pipeline {
                        vars: Vec::new(),
                        declare: false,
                        cmds: p.cmds.clone(),
                    };
                    let v = self.pipeline(&inner, dot).map_err(|e| self.err(pos, e))?;
                    let items: Vec<(Value, Value)> = match v {
                        Value::List(l) => l
                            .into_iter()
                            .enumerate()
                            .map(|(i, x)| (Value::Int(i as i64), x))
                            .collect(),
                        Value::Map(m) => m.into_iter().map(|(k, x)| (Value::Str(k), x)).collect(),
                        Value::Int(n) => (0..n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
                        Value::Nil => Vec::new(),
                        other => {
                            return Err(self.err(pos, format!("range can't iterate over {other}")))
                        }
                    };
                    if items.is_empty() {
                        self.walk(els, dot)?;
                    }
                    for (k, x) in items {
                        let inner_mark = self.vars.len();
                        match p.vars.len() {
                            0 => {}
                            1 => self.vars.push((p.vars[0].clone(), x.clone())),
                            _ => {
                                self.vars.push((p.vars[0].clone(), k));
                                self.vars.push((p.vars[1].clone(), x.clone()));
                            }
                        }
                        self.walk(body, &x)?;
                        self.vars.truncate(inner_mark);
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn var(&self, name: &str) -> Result<Value, String> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("undefined variable: ${name}"))
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, String> {
        let mut prev: Option<Value> = None;
        for c in &p.cmds {
            prev = Some(self.command(c, dot, prev)?);
        }
        let v = prev.unwrap_or(Value::Nil);
        if let Some(name) = p.vars.first() {
            if p.declare {
                self.vars.push((name.clone(), v.clone()));
            } else {
                let slot = self
                    .vars
                    .iter_mut()
                    .rev()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| format!("undefined variable: ${name}"))?;
                slot.1 = v.clone();
            }
        }
        Ok(v)
    }

    fn command(&mut self, c: &Command, dot: &Value, piped: Option<Value>) -> Result<Value, String> {
        match &c.args[0] {
            Arg::Func(name) => {
                // `and` / `or` stop at the first deciding argument, as Go 1.18+.
                if name == "and" || name == "or" {
                    let mut last = Value::Nil;
                    let n = c.args.len() - 1 + usize::from(piped.is_some());
                    if n == 0 {
                        return Err(format!(
                            "wrong number of args for {name}: want at least 1 got 0"
                        ));
                    }
                    for a in &c.args[1..] {
                        last = self.arg(a, dot)?;
                        if last.truth() != (name == "and") {
                            return Ok(last);
                        }
                    }
                    if let Some(p) = piped {
                        last = p;
                    }
                    return Ok(last);
                }
                let mut args = Vec::with_capacity(c.args.len());
                for a in &c.args[1..] {
                    args.push(self.arg(a, dot)?);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                self.funcs
                    .call(name, &args)
                    .map_err(|e| format!("error calling {name}: {e}"))
            }
            first => {
                if c.args.len() > 1 || piped.is_some() {
                    return Err("can't give argument to non-function".into());
                }
                self.arg(first, dot)
            }
        }
    }

    fn arg(&mut self, a: &Arg, dot: &Value) -> Result<Value, String> {
        match a {
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Field(f) => walk_fields(dot.clone(), f),
            Arg::Var(n, f) => walk_fields(self.var(n)?, f),
            Arg::Func(name) => self
                .funcs
                .call(name, &[])
                .map_err(|e| format!("error calling {name}: {e}")),
            Arg::Sub(p, f) => {
                let v = self.pipeline(p, dot)?;
                walk_fields(v, f)
            }
        }
    }
}

fn walk_fields(mut v: Value, fields: &[String]) -> Result<Value, String> {
    for f in fields {
        v = match v {
            Value::Map(mut m) => m.remove(f).unwrap_or(Value::Nil),
            Value::Nil => return Err(format!("nil pointer evaluating interface {{}}.{f}")),
            other => {
                return Err(format!(
                    "can't evaluate field {f} in type {}",
                    other.type_name()
                ))
            }
        };
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn funcs() -> Funcs {
        Funcs::new(PathBuf::from("."), BTreeMap::new(), 1)
    }

    fn r(src: &str, d: &Value) -> String {
        render("t.yaml", src, d, &funcs()).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    #[test]
    fn cl2_functions_known_answers() {
        let d = data(&[
            ("Nodes", Value::Int(7)),
            ("F", Value::Float(100.0)),
            ("S", Value::Str("12".into())),
            ("B", Value::Bool(false)),
        ]);
        let cases = [
            // Integer vs float division.
            ("{{DivideInt 7 2}}", "3"),
            ("{{DivideFloat 7 2}}", "3.5"),
            ("{{DivideInt -7 2}}", "-3"),
            ("{{DivideFloat 1 3}}", "0.3333333333333333"),
            ("{{DivideFloat 10 5}}", "2"),
            ("{{MultiplyInt 0.5 3}}", "1"),
            ("{{MultiplyFloat 0.5 3}}", "1.5"),
            ("{{MultiplyInt 2 3 4}}", "24"),
            ("{{AddInt 1 2.9}}", "3"),
            ("{{AddFloat 1 2.5}}", "3.5"),
            ("{{SubtractInt 1 3}}", "-2"),
            ("{{MaxInt 1 7 3}}", "7"),
            ("{{MinInt .Nodes 100}}", "7"),
            ("{{MaxFloat 1.5 0.5}}", "1.5"),
            ("{{Mod 7 3}}", "1"),
            ("{{Ceil 2.1}}", "3"),
            ("{{Ceil (DivideFloat 7 2)}}", "4"),
            ("{{AddInt .S 1}}", "13"),
            ("{{DivideInt .F 3}}", "33"),
            ("{{.F}}", "100"),
            ("{{MultiplyFloat 1000 1000}}", "1e+06"),
            ("{{DivideFloat 1 100000}}", "1e-05"),
            ("{{MultiplyFloat 123456 1}}", "123456"),
            // DefaultParam with a missing key, a present key, a false one.
            ("{{DefaultParam .MISSING 100}}", "100"),
            ("{{DefaultParam .Nodes 100}}", "7"),
            ("{{DefaultParam .B true}}", "false"),
            ("{{DefaultParam .MISSING \"x\"}}", "x"),
            ("{{.MISSING}}", "<no value>"),
            ("{{IfThenElse (lt .Nodes 100) 1 2}}", "1"),
            ("{{IfThenElse (le .Nodes 500) 10 100}}", "10"),
            ("{{len (Seq 3)}}", "3"),
            (
                "{{range $i, $v := Loop 3}}{{$i}}{{$v}},{{end}}",
                "00,11,22,",
            ),
            ("{{range Seq 2}}x{{.}}{{end}}", "x0x0"),
            ("{{RandIntRange 5 5}}", "5"),
            ("{{RandIntRange 6 2}}", "6"),
            ("{{len (RandData 12)}}", "12"),
            ("{{Lowercase \"AbC\"}}", "abc"),
            ("{{index (StringSplit \"a,b\") 1}}", "b"),
            ("{{YamlQuote \"a: b\" 1}}", "'a: b'\n  "),
            ("{{YamlQuote \"true\" 0}}", "\"true\"\n"),
            ("{{YamlQuote \"plain\" 0}}", "plain\n"),
            ("{{YamlQuote \"l1\nl2\" 2}}", "|-\n      l1\n      l2\n    "),
            // Builtins.
            ("{{and 1 0 2}}", "0"),
            ("{{or 0 \"\" 3}}", "3"),
            ("{{or .MISSING 5}}", "5"),
            ("{{not .B}}", "true"),
            ("{{eq .Nodes 1 7}}", "true"),
            ("{{ne \"a\" \"b\"}}", "true"),
            ("{{printf \"%s-%d-%05.1f\" \"x\" 3 2.25}}", "x-3-  2.2"),
            ("{{print 1 \"a\"}}", "1a"),
            ("{{3 | AddInt 4}}", "7"),
            ("{{.Nodes | MultiplyInt 2 | printf \"%d!\"}}", "14!"),
        ];
        for (src, want) in cases {
            assert_eq!(r(src, &d), want, "{src}");
        }
        let rand = r("{{RandInt 3}}", &d).parse::<i64>().unwrap();
        assert!((0..=3).contains(&rand));
    }

    #[test]
    fn control_flow_variables_and_trimming() {
        let d = data(&[
            ("Nodes", Value::Int(150)),
            (
                "L",
                Value::List(vec![Value::Str("a".into()), Value::Str("b".into())]),
            ),
            ("M", data(&[("x", Value::Int(1)), ("y", Value::Int(2))])),
        ]);
        let cases = [
            ("{{$n := MinInt .Nodes 100}}{{$n}}", "100"),
            ("{{$n := 1}}{{$n = AddInt $n 1}}{{$n}}", "2"),
            // A redeclaration shadows, as ClusterLoader2 configs rely on.
            ("{{$a := 1}}{{$a := AddInt $a 5}}{{$a}}", "6"),
            (
                "{{if lt .Nodes 100}}small{{else if lt .Nodes 200}}medium{{else}}big{{end}}",
                "medium",
            ),
            ("{{if not (lt .Nodes 100)}}yes{{end}}", "yes"),
            (
                "{{with .M}}{{.x}}{{end}}{{with .Z}}no{{else}}none{{end}}",
                "1none",
            ),
            ("{{range .L}}[{{.}}]{{end}}", "[a][b]"),
            ("{{range $k, $v := .M}}{{$k}}={{$v}};{{end}}", "x=1;y=2;"),
            ("{{range .Z}}x{{else}}empty{{end}}", "empty"),
            ("{{range $i, $_ := .L}}{{$.Nodes}}{{end}}", "150150"),
            ("a  {{- 1 -}}  \n b", "a1b"),
            ("{{/* a comment */}}x", "x"),
            ("{{- /* trimmed comment */ -}}\n  x", "x"),
            ("{{ .M.y }}", "2"),
            ("{{(index .L 1)}}", "b"),
            ("{{\"}}\"}}", "}}"),
            ("{{-3}}", "-3"),
        ];
        for (src, want) in cases {
            assert_eq!(r(src, &d), want, "{src}");
        }
    }

    /// Idioms of upstream's load config and measurements module.
    #[test]
    fn upstream_idioms() {
        let d = data(&[
            ("Nodes", Value::Int(100)),
            ("action", Value::Str("start".into())),
        ]);
        let src = concat!(
            "{{$METRICS:= DefaultParam .ENABLE_METRICS true}}\n",
            "{{$EXEC := DefaultParam .CL2_EXEC nil}}\n",
            "{{$THRESHOLDS := DefaultParam .CUSTOM_THRESHOLDS \"\"}}\n",
            "{{$SMALL := lt .Nodes 100}}\n",
            "steps:\n",
            "- name: \"{{.action}}ing measurements\"\n",
            "  custom: {{YamlQuote $THRESHOLDS 4}}\n",
            "{{if $EXEC}}exec: {{range $EXEC}}- {{.}}{{end}}{{end}}\n",
            "{{if and $METRICS (not $SMALL)}}metrics: {{AddInt 2 (DivideInt .Nodes 100)}}{{end}} # trailing\n",
            "qps: {{DefaultParam .CL2_QPS (IfThenElse (le .Nodes 500) 10 100)}}\n",
        );
        let out = r(src, &d);
        let y: serde_yaml::Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(y["steps"][0]["name"], "starting measurements", "{out}");
        assert_eq!(y["steps"][0]["custom"], "", "{out}");
        assert_eq!(y["metrics"], 3, "{out}");
        assert_eq!(y["qps"], 10, "{out}");
        assert!(y.get("exec").is_none(), "{out}");
    }

    #[test]
    fn errors_name_file_line_and_expression() {
        let d = data(&[("Nodes", Value::Int(1))]);
        let cases = [
            (
                "a\nb\n{{DivideInt 1 0}}",
                3,
                "DivideInt 1 0",
                "division by zero",
            ),
            ("\n{{NoSuch 1}}", 2, "NoSuch 1", "not defined"),
            ("{{if .Nodes}}\nx", 1, "if .Nodes", "missing {{end}}"),
            (
                "x\n\n{{.Nodes.Foo}}",
                3,
                ".Nodes.Foo",
                "can't evaluate field Foo",
            ),
            ("{{.A.B}}", 1, ".A.B", "nil pointer"),
            ("{{$x}}", 1, "$x", "undefined variable"),
            ("{{IfThenElse 1 2 3}}", 1, "IfThenElse 1 2 3", "want: bool"),
            ("{{AddInt \"x\" 1}}", 1, "AddInt \"x\" 1", "cannot cast x"),
            ("{{lt \"a\" 1}}", 1, "lt \"a\" 1", "incompatible types"),
            ("{{1 2}}", 1, "1 2", "non-function"),
            ("{{(1}}", 1, "(1", "unclosed left paren"),
            ("x {{ 1", 1, "", "unclosed action"),
        ];
        for (src, line, expr, reason) in cases {
            let e = render("cfg.yaml", src, &d, &funcs()).unwrap_err();
            assert_eq!(
                (e.file.as_str(), e.line, e.expr.as_str()),
                ("cfg.yaml", line, expr),
                "{src}: {e}"
            );
            assert!(e.reason.contains(reason), "{src}: {e}");
            assert!(
                e.to_string().starts_with(&format!("cfg.yaml:{line}: ")),
                "{e}"
            );
        }
    }

    #[test]
    fn params_are_typed_like_cl2() {
        assert_eq!(Value::from_param("10"), Value::Int(10));
        assert_eq!(Value::from_param("2.5"), Value::Float(2.5));
        assert_eq!(Value::from_param("true"), Value::Bool(true));
        assert_eq!(Value::from_param("5m"), Value::Str("5m".into()));
        let y: serde_yaml::Value = serde_yaml::from_str("{a: 1, b: 1.5, c: [x], d: null}").unwrap();
        assert_eq!(
            Value::from_yaml(&y),
            data(&[
                ("a", Value::Int(1)),
                ("b", Value::Float(1.5)),
                ("c", Value::List(vec![Value::Str("x".into())])),
                ("d", Value::Nil),
            ])
        );
    }

    #[test]
    fn include_and_env() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("inc.txt"), "hello").unwrap();
        let mut env = BTreeMap::new();
        env.insert("WHO".to_string(), "inc".to_string());
        let f = Funcs::new(dir.path().to_path_buf(), env, 0);
        let d = Value::Map(BTreeMap::new());
        assert_eq!(
            render("t", "{{IncludeFile \"$WHO.txt\"}}", &d, &f).unwrap(),
            "hello"
        );
        assert_eq!(
            render("t", "{{IncludeEmbedFile \"inc.txt\"}}", &d, &f).unwrap(),
            "hello"
        );
        assert_eq!(
            render("t", "{{ExpandEnv \"a-${WHO}\"}}", &d, &f).unwrap(),
            "a-inc"
        );
        let e = render("t", "{{IncludeFile \"nope\"}}", &d, &f).unwrap_err();
        assert!(e.reason.contains("unable to read file"), "{e}");
    }
}
