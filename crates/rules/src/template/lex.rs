//! Splits a template into text and action items, as Go's `text/template/parse` lexer does.

/// Kind of a lexed item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A lexing error; the value is the message.
    Error,
    Eof,
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Bool,
    /// A single printable ASCII character such as `,`.
    Char,
    CharConstant,
    Number,
    Str,
    RawStr,
    /// `.Name`.
    Field,
    /// `$` or `$name`.
    Variable,
    Identifier,
    Dot,
    Nil,
    Pipe,
    Declare,
    Assign,
    LeftParen,
    RightParen,
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

impl Kind {
    pub(super) fn is_keyword(self) -> bool {
        matches!(
            self,
            Kind::Block
                | Kind::Break
                | Kind::Continue
                | Kind::Define
                | Kind::Else
                | Kind::End
                | Kind::If
                | Kind::Range
                | Kind::Template
                | Kind::With
                | Kind::Nil
        )
    }
}

/// One lexed item.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) kind: Kind,
    pub(super) val: String,
    /// Byte offset in the template text.
    pub(super) pos: usize,
    /// Line (1-based) where the item starts.
    pub(super) line: usize,
}

const LEFT_DELIM: &str = "{{";
const RIGHT_DELIM: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";

/// Lexes the whole input; the last item is `Eof` or `Error`.
pub(super) fn lex(input: &str) -> Vec<Item> {
    let mut l = Lexer { input, pos: 0, start: 0, items: Vec::new(), paren_depth: 0, line: 1, line_pos: 0 };
    while l.lex_text() && l.lex_left_delim() {}
    l.items
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    items: Vec<Item>,
    paren_depth: i32,
    /// Line at `line_pos` (items are emitted in order, so lines are counted incrementally).
    line: usize,
    line_pos: usize,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(b[1] as char)
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(b[0] as char) && b[1] == b'-'
}

fn left_trim_length(s: &str) -> usize {
    s.len() - s.trim_start_matches(is_space).len()
}

impl Lexer<'_> {
    fn emit_val(&mut self, kind: Kind, val: String) {
        if self.start >= self.line_pos {
            self.line += self.input[self.line_pos..self.start].matches('\n').count();
            self.line_pos = self.start;
        }
        self.items.push(Item { kind, val, pos: self.start, line: self.line });
        self.start = self.pos;
    }

    fn emit(&mut self, kind: Kind) {
        let val = self.input[self.start..self.pos].to_string();
        self.emit_val(kind, val);
    }

    /// Emits an error item; lexing stops.
    fn error(&mut self, msg: impl Into<String>) -> bool {
        self.emit_val(Kind::Error, msg.into());
        false
    }

    fn ignore(&mut self) {
        self.start = self.pos;
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    /// Text up to the next `{{` (trimmed if it carries a `-` marker); false at the end of input.
    fn lex_text(&mut self) -> bool {
        let rest = &self.input[self.pos..];
        match rest.find(LEFT_DELIM) {
            Some(x) => {
                let delim = self.pos + x;
                self.pos = if has_left_trim_marker(&self.input[delim + LEFT_DELIM.len()..]) {
                    self.pos + rest[..x].trim_end_matches(is_space).len()
                } else {
                    delim
                };
                if self.pos > self.start {
                    self.emit(Kind::Text);
                }
                self.pos = delim;
                self.ignore();
                true
            }
            None => {
                self.pos = self.input.len();
                if self.pos > self.start {
                    self.emit(Kind::Text);
                }
                self.emit(Kind::Eof);
                false
            }
        }
    }

    /// `{{`, then a comment or an action; false when lexing stopped.
    fn lex_left_delim(&mut self) -> bool {
        self.pos += LEFT_DELIM.len();
        let trim = has_left_trim_marker(&self.input[self.pos..]);
        let after_marker = if trim { 2 } else { 0 };
        if self.input[self.pos + after_marker..].starts_with(LEFT_COMMENT) {
            self.pos += after_marker;
            self.ignore();
            return self.lex_comment();
        }
        self.emit(Kind::LeftDelim);
        self.pos += after_marker;
        self.ignore();
        self.paren_depth = 0;
        self.lex_inside_action()
    }

    fn lex_comment(&mut self) -> bool {
        self.pos += LEFT_COMMENT.len();
        match self.input[self.pos..].find(RIGHT_COMMENT) {
            Some(x) => self.pos += x + RIGHT_COMMENT.len(),
            None => return self.error("unclosed comment"),
        }
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter");
        }
        if trim {
            self.pos += 2;
        }
        self.pos += RIGHT_DELIM.len();
        if trim {
            self.pos += left_trim_length(&self.input[self.pos..]);
        }
        self.ignore();
        true
    }

    /// Whether a right delimiter (possibly with its ` -` trim marker) is next.
    fn at_right_delim(&self) -> (bool, bool) {
        let rest = &self.input[self.pos..];
        if has_right_trim_marker(rest) && rest[2..].starts_with(RIGHT_DELIM) {
            return (true, true);
        }
        (rest.starts_with(RIGHT_DELIM), false)
    }

    fn lex_right_delim(&mut self, trim: bool) -> bool {
        if trim {
            self.pos += 2;
            self.ignore();
        }
        self.pos += RIGHT_DELIM.len();
        self.emit(Kind::RightDelim);
        if trim {
            self.pos += left_trim_length(&self.input[self.pos..]);
            self.ignore();
        }
        true
    }

    fn lex_inside_action(&mut self) -> bool {
        loop {
            let (delim, trim) = self.at_right_delim();
            if delim {
                if self.paren_depth == 0 {
                    return self.lex_right_delim(trim);
                }
                return self.error("unclosed left paren");
            }
            let Some(r) = self.next() else {
                return self.error("unclosed action");
            };
            let ok = match r {
                c if is_space(c) => {
                    self.pos -= 1;
                    self.lex_space();
                    true
                }
                '=' => {
                    self.emit(Kind::Assign);
                    true
                }
                ':' => {
                    if self.next() != Some('=') {
                        return self.error("expected :=");
                    }
                    self.emit(Kind::Declare);
                    true
                }
                '|' => {
                    self.emit(Kind::Pipe);
                    true
                }
                '"' => self.lex_quote(),
                '`' => self.lex_raw_quote(),
                '$' => self.lex_field_or_variable(Kind::Variable),
                '\'' => self.lex_char(),
                '.' if !self.peek().is_some_and(|c| c.is_ascii_digit()) => self.lex_field_or_variable(Kind::Field),
                '.' | '+' | '-' | '0'..='9' => {
                    self.pos -= 1;
                    self.lex_number()
                }
                c if is_alphanumeric(c) => {
                    self.pos -= c.len_utf8();
                    self.lex_identifier()
                }
                '(' => {
                    self.emit(Kind::LeftParen);
                    self.paren_depth += 1;
                    true
                }
                ')' => {
                    // Go emits the paren before the error, so the parser reports it in its context.
                    self.emit(Kind::RightParen);
                    self.paren_depth -= 1;
                    if self.paren_depth < 0 {
                        return self.error("unexpected right paren");
                    }
                    true
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.emit(Kind::Char);
                    true
                }
                c => return self.error(format!("unrecognized character in action: U+{:04X}", c as u32)),
            };
            if !ok {
                return false;
            }
        }
    }

    /// A run of spaces, leaving the space of a ` -}}` trim marker for the delimiter.
    fn lex_space(&mut self) {
        let mut n = 0;
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
            n += 1;
        }
        let last = &self.input[self.pos - 1..];
        if has_right_trim_marker(last) && last[2..].starts_with(RIGHT_DELIM) {
            self.pos -= 1;
            if n == 1 {
                return;
            }
        }
        self.emit(Kind::Space);
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.input[self.pos..].starts_with(RIGHT_DELIM),
        }
    }

    fn bad_character(&mut self) -> bool {
        let c = self.peek().unwrap_or('\0');
        self.error(format!("bad character U+{:04X} '{c}'", c as u32))
    }

    fn lex_identifier(&mut self) -> bool {
        while self.peek().is_some_and(is_alphanumeric) {
            self.next();
        }
        if !self.at_terminator() {
            return self.bad_character();
        }
        let kind = match &self.input[self.start..self.pos] {
            "block" => Kind::Block,
            "break" => Kind::Break,
            "continue" => Kind::Continue,
            "define" => Kind::Define,
            "else" => Kind::Else,
            "end" => Kind::End,
            "if" => Kind::If,
            "range" => Kind::Range,
            "nil" => Kind::Nil,
            "template" => Kind::Template,
            "with" => Kind::With,
            "true" | "false" => Kind::Bool,
            _ => Kind::Identifier,
        };
        self.emit(kind);
        true
    }

    /// `$name` or `.Name` (the `$`/`.` is consumed); a lone `$` or `.` is a variable or dot.
    fn lex_field_or_variable(&mut self, kind: Kind) -> bool {
        if self.at_terminator() {
            self.emit(if kind == Kind::Variable { Kind::Variable } else { Kind::Dot });
            return true;
        }
        while self.peek().is_some_and(is_alphanumeric) {
            self.next();
        }
        if !self.at_terminator() {
            return self.bad_character();
        }
        self.emit(kind);
        true
    }

    fn lex_number(&mut self) -> bool {
        if !self.scan_number() {
            let text = self.input[self.start..self.pos].to_string();
            return self.error(format!("bad number syntax: {text:?}"));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            return self.error("complex numbers are not supported");
        }
        self.emit(Kind::Number);
        true
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alphanumeric) {
            self.next();
            return false;
        }
        true
    }

    fn lex_quote(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(c) if c != '\n' => {}
                    _ => return self.error("unterminated quoted string"),
                },
                None | Some('\n') => return self.error("unterminated quoted string"),
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::Str);
        true
    }

    fn lex_raw_quote(&mut self) -> bool {
        match self.input[self.pos..].find('`') {
            Some(x) => self.pos += x + 1,
            None => return self.error("unterminated raw quoted string"),
        }
        self.emit(Kind::RawStr);
        true
    }

    fn lex_char(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(c) if c != '\n' => {}
                    _ => return self.error("unterminated character constant"),
                },
                None | Some('\n') => return self.error("unterminated character constant"),
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::CharConstant);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(Kind, String)> {
        lex(s).into_iter().map(|i| (i.kind, i.val)).collect()
    }

    #[test]
    fn trims_and_comments() {
        assert_eq!(
            kinds("a  {{- .x -}}  b{{/* c */}}d"),
            vec![
                (Kind::Text, "a".into()),
                (Kind::LeftDelim, "{{".into()),
                (Kind::Field, ".x".into()),
                (Kind::RightDelim, "}}".into()),
                (Kind::Text, "b".into()),
                (Kind::Text, "d".into()),
                (Kind::Eof, "".into()),
            ]
        );
        assert_eq!(kinds("{{-3}}")[1], (Kind::Number, "-3".into()));
        assert_eq!(kinds("{{ x")[3], (Kind::Error, "unclosed action".into()));
        assert_eq!(kinds("{{/* x")[0], (Kind::Error, "unclosed comment".into()));
    }

    #[test]
    fn tokens_and_lines() {
        let items = lex("x\n{{ $v := index .Labels \"a\" | printf `%s` 1.5e3 'c' }}");
        let got: Vec<Kind> = items.iter().map(|i| i.kind).filter(|k| *k != Kind::Space).collect();
        assert_eq!(
            got,
            vec![
                Kind::Text,
                Kind::LeftDelim,
                Kind::Variable,
                Kind::Declare,
                Kind::Identifier,
                Kind::Field,
                Kind::Str,
                Kind::Pipe,
                Kind::Identifier,
                Kind::RawStr,
                Kind::Number,
                Kind::CharConstant,
                Kind::RightDelim,
                Kind::Eof
            ]
        );
        assert_eq!(items[1].line, 2);
        assert_eq!(items[1].pos, 2);
    }
}
