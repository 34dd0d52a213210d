"""Parser for the PowerShell subset (see README.md): a scannerless recursive
descent over the source, with PowerShell's two modes (expression mode and
command/argument mode), its quoting rules (single quotes are literal, ''
escapes a quote; double quotes expand $var, $env:X and $(...), backtick
escapes; here-strings; the typographic quotes PowerShell also accepts) and
its notion of *incomplete* input, which decides how `-Command -` reads a
script from stdin line by line.

Anything outside the subset is a parse error, never silently accepted."""

import re

SQUOTES = "'\u2018\u2019\u201a\u201b"
DQUOTES = '"\u201c\u201d\u201e'
DASHES = '-\u2013\u2014\u2015'
KEYWORDS_UNSUPPORTED = {'do', 'switch', 'filter', 'workflow',
                        'class', 'enum', 'trap', 'data', 'begin', 'process', 'end',
                        'dynamicparam', 'using', 'configuration'}

# Attributes a param() block may carry, with the named arguments modelled
# (anything else is a parse error, never ignored).
ATTRIBUTES = {'parameter': ('Parameter', {'mandatory': 'Mandatory', 'position': 'Position',
                                          'helpmessage': 'HelpMessage'}),
              'cmdletbinding': ('CmdletBinding', {})}

BACKTICK = {'0': '\0', 'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r',
            't': '\t', 'v': '\v'}

BINARY_CMP = {'eq', 'ne', 'gt', 'ge', 'lt', 'le', 'like', 'notlike', 'match', 'notmatch',
              'contains', 'notcontains', 'in', 'notin', 'replace', 'split', 'join', 'is',
              'isnot', 'as'}
LOGICAL = {'and', 'or', 'xor'}


class ParseError(Exception):
    def __init__(self, message, pos, incomplete=False, fqid=None):
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.incomplete = incomplete
        self.fqid = fqid or 'ParseError'


class N:
    """An AST node: kind, source position and fields."""

    def __init__(self, kind, pos, **kw):
        self.kind = kind
        self.pos = pos
        self.__dict__.update(kw)

    def __repr__(self):
        fields = ', '.join('%s=%r' % (k, v) for k, v in self.__dict__.items()
                           if k not in ('kind', 'pos'))
        return '%s(%s)' % (self.kind, fields)


EOF = '\x00'   # what peek() returns past the end


def is_word_char(c):
    return c != EOF and (c.isalnum() or c == '_')


class Parser:
    def __init__(self, src):
        self.s = src.replace('\r\n', '\n').replace('\r', '\n')
        self.i = 0

    # -- low level --------------------------------------------------------
    def peek(self, k=0):
        j = self.i + k
        return self.s[j] if j < len(self.s) else EOF

    def eof(self):
        return self.i >= len(self.s)

    def error(self, msg, incomplete=False, pos=None, fqid=None):
        raise ParseError(msg, self.i if pos is None else pos, incomplete, fqid)

    def need_more(self, msg, fqid=None):
        """At end of input a missing piece means 'incomplete', else an error."""
        self.ws()
        raise ParseError(msg, self.i, self.eof(), fqid)

    def ws(self, newlines=False):
        """Skip blanks, comments, line continuations (and newlines if asked)."""
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in ' \t\f\v\u00a0':
                self.i += 1
            elif c == '`' and self.peek(1) == '\n':
                self.i += 2
            elif c == '\n' and newlines:
                self.i += 1
            elif c == '#':
                while self.i < len(s) and s[self.i] != '\n':
                    self.i += 1
            elif c == '<' and self.peek(1) == '#':
                end = s.find('#>', self.i + 2)
                if end < 0:
                    self.i = len(s)
                    self.error('The string is missing the terminator: #>.', True)
                self.i = end + 2
            else:
                break

    def at_keyword(self, word):
        n = len(word)
        if self.s[self.i:self.i + n].lower() != word:
            return False
        c = self.peek(n)
        return not (is_word_char(c) or c == '-')

    def expect(self, ch, msg, fqid=None):
        self.ws(True)
        if self.peek() != ch:
            self.need_more(msg, fqid)
        self.i += 1

    # -- statements -------------------------------------------------------
    def parse_script(self):
        params = self.param_block()
        body = self.statement_list(top=True)
        if params is not None:
            body.insert(0, params)
        self.ws(True)
        if not self.eof():
            c = self.peek()
            if c == '}':
                self.error("Unexpected token '}' in expression or statement.", fqid='UnexpectedToken')
            if c == ')':
                self.error("Unexpected token ')' in expression or statement.", fqid='UnexpectedToken')
            self.error("Unexpected token '%s' in expression or statement." % c, fqid='UnexpectedToken')
        return body

    def statement_list(self, top=False, closer=None):
        stmts = []
        while True:
            while True:
                self.ws()
                if self.peek() in ('\n', ';'):
                    self.i += 1
                    continue
                break
            if self.eof():
                if closer:
                    self.error("Missing closing '%s' in statement block or type definition." % closer,
                               True, fqid='MissingEndCurlyBrace')
                return stmts
            if closer and self.peek() == closer:
                return stmts
            if self.peek() in ')}':
                if top:
                    return stmts
                self.error("Unexpected token '%s' in expression or statement." % self.peek(),
                           fqid='UnexpectedToken')
            stmts.append(self.statement())
            self.ws()
            c = self.peek()
            if c in ('\n', ';', EOF) or (closer and c == closer) or c in ')}':
                continue
            self.error("Unexpected token '%s' in expression or statement." % self.token_text(),
                       fqid='UnexpectedToken')

    def token_text(self):
        m = re.match(r'[^\s]+', self.s[self.i:])
        return m.group(0) if m else self.peek()

    def statement(self):
        # A statement nested in a method argument -- ($a, $b), @(...),
        # {...} -- has its comma operator back (see logical_noarray).
        saved = self.__dict__.pop('array_expr', None)
        try:
            return self._statement()
        finally:
            if saved is not None:
                self.array_expr = saved

    def _statement(self):
        self.ws()
        pos = self.i
        m = re.match(r'[A-Za-z]+', self.s[self.i:])
        word = m.group(0).lower() if m else ''
        if word and not is_word_char(self.peek(len(word))) and self.peek(len(word)) != '-':
            if word == 'if':
                return self.if_stmt()
            if word == 'foreach':
                return self.foreach_stmt()
            if word == 'for':
                return self.for_stmt()
            if word == 'try':
                return self.try_stmt()
            if word == 'while':
                return self.while_stmt()
            if word == 'function':
                return self.function_stmt()
            if word == 'param':
                self.error('The param block must come first in a script, script block or function '
                           '(only comments and [CmdletBinding()] before it).', fqid='UnexpectedToken')
            if word in ('throw', 'exit', 'return'):
                self.i += len(word)
                self.ws()
                val = None
                if self.peek() not in ('\n', ';', EOF, '}', ')'):
                    val = self.pipeline()
                return N(word, pos, value=val)
            if word in ('break', 'continue'):
                self.i += len(word)
                return N(word, pos)
            if word in KEYWORDS_UNSUPPORTED:
                self.error("The '%s' keyword is not supported by the certsync test host." % word,
                           fqid='UnsupportedKeyword')
        return self.pipeline(allow_assign=True)

    def block(self, what):
        self.ws(False)
        if self.peek() != '{':
            # Missing block: an error even at the end of input (PowerShell
            # does not treat it as incomplete; see README).
            self.error('Missing statement block %s.' % what, fqid='MissingStatementBlock')
        pos = self.i
        self.i += 1
        body = self.statement_list(closer='}')
        self.i += 1
        return N('block', pos, body=body)

    def paren_condition(self, what):
        self.ws()
        if self.peek() != '(':
            self.need_more("Missing '(' after '%s' in %s statement." % (what, what))
        self.i += 1
        self.ws(True)
        if self.peek() == ')':
            self.error('Missing condition in %s statement.' % what)
        cond = self.pipeline(allow_assign=True)
        self.ws(True)
        if self.peek() != ')':
            self.need_more("Missing closing ')' after expression in '%s' statement." % what,
                           'MissingEndParenthesisAfterStatement')
        self.i += 1
        return cond

    def lookahead_keyword(self, words):
        """Skip newlines to find one of words; restore position if absent."""
        save = self.i
        self.ws(True)
        for w in words:
            if self.at_keyword(w):
                return w
        self.i = save
        return None

    def if_stmt(self):
        pos = self.i
        self.i += 2
        clauses = [(self.paren_condition('if'), self.block("after if ( condition )"))]
        else_body = None
        while True:
            kw = self.lookahead_keyword(('elseif', 'else'))
            if kw == 'elseif':
                self.i += 6
                clauses.append((self.paren_condition('elseif'),
                                self.block('after elseif ( condition )')))
                continue
            if kw == 'else':
                self.i += 4
                else_body = self.block("after 'else' keyword")
            break
        return N('if', pos, clauses=clauses, else_body=else_body)

    def foreach_stmt(self):
        pos = self.i
        self.i += 7
        self.ws()
        if self.peek() != '(':
            self.need_more("Missing opening '(' after keyword 'foreach'.")
        self.i += 1
        self.ws(True)
        if self.peek() != '$':
            self.need_more('Missing variable name after foreach.')
        var = self.variable()
        self.ws(True)
        if not self.at_keyword('in'):
            self.need_more("Missing 'in' after variable in foreach loop.")
        self.i += 2
        self.ws(True)
        coll = self.pipeline()
        self.ws(True)
        if self.peek() != ')':
            self.need_more("Missing closing ')' after expression in 'foreach' statement.")
        self.i += 1
        body = self.block("in foreach statement")
        return N('foreach', pos, var=var.name, coll=coll, body=body)

    def for_stmt(self):
        """for (init; condition; iterator) body: each part optional; a part
        ends at ';' or a line end, like a statement."""
        pos = self.i
        self.i += 3
        self.ws()
        if self.peek() != '(':
            self.need_more("Missing opening '(' after keyword 'for'.", 'MissingOpenParenthesisAfterKeyword')
        self.i += 1
        self.ws(True)
        parts = [None, None, None]
        for k in range(3):
            self.ws()
            if self.peek() == ')':
                break
            if self.peek() not in (';', '\n', EOF):
                parts[k] = self.pipeline(allow_assign=True)
                self.ws()
            if k < 2 and self.peek() in (';', '\n'):
                self.i += 1
                self.ws(True)
                continue
            break
        self.ws(True)
        if self.peek() != ')':
            self.need_more("Missing closing ')' after expression in 'for' statement.",
                           'MissingEndParenthesisAfterStatement')
        self.i += 1
        self.ws()
        if self.peek() != '{':
            self.need_more('Missing statement body in for loop.', 'MissingLoopStatement')
        body = self.block('in for loop')
        return N('for', pos, init=parts[0], cond=parts[1], iter=parts[2], body=body)

    def while_stmt(self):
        """while (condition) body."""
        pos = self.i
        self.i += 5
        cond = self.paren_condition('while')
        self.ws()
        if self.peek() != '{':
            self.need_more('Missing statement body in while loop.', 'MissingLoopStatement')
        body = self.block('in while loop')
        return N('while', pos, cond=cond, body=body)

    def function_stmt(self):
        """function Name [(parameters)] { [param(...)] body }: simple
        functions and advanced ones ([CmdletBinding()], [Parameter()])."""
        pos = self.i
        self.i += 8
        self.ws()
        m = re.match(r'[A-Za-z_][\w\-]*', self.s[self.i:])
        if not m:
            self.need_more('Missing name after function keyword.', 'MissingNameAfterKeyword')
        name = m.group(0)
        self.i += len(name)
        self.ws()
        params = None
        if self.peek() == '(':
            ppos = self.i
            self.i += 1
            params = N('params', ppos, attrs=[], params=self.parameter_list())
        self.ws(True)
        if self.peek() != '{':
            self.need_more('Missing function body in function declaration.', 'MissingFunctionBody')
        self.i += 1
        start = self.i
        inner = self.param_block()
        if inner is not None and params is not None:
            self.error('A function cannot have both a parameter list and a param block.', pos=inner.pos,
                       fqid='OnlyOneParameterListAllowed')
        body = self.statement_list(closer='}')
        text = self.s[start:self.i]
        self.i += 1
        return N('function', pos, name=name, params=params if params is not None else inner, body=body,
                 text=text)

    def param_block(self):
        """An optional param(...) at the start of a script, script block or
        function body, after comments and [CmdletBinding()]; None if there
        is none (nothing consumed then)."""
        save = self.i
        self.ws(True)
        pos = self.i
        attrs = []
        while self.peek() == '[' and re.match(r'\[\s*[A-Za-z_][\w.]*\s*\(', self.s[self.i:]):
            attrs.append(self.attribute_or_type())
            self.ws(True)
        if not self.at_keyword('param'):
            self.i = save
            return None
        self.i += 5
        self.ws(True)
        if self.peek() != '(':
            self.need_more("Missing '(' after 'param'.", 'MissingOpenParenthesisAfterKeyword')
        self.i += 1
        for a in attrs:
            if a.name.lower() != 'cmdletbinding':
                self.error('The attribute [%s] cannot be used on a param block here.' % a.name, pos=a.pos,
                           fqid='UnexpectedAttribute')
        return N('params', pos, attrs=attrs, params=self.parameter_list())

    def parameter_list(self):
        """Parameters up to the closing ')': attributes, a type, $name and
        an optional default value, separated by commas."""
        params = []
        self.ws(True)
        if self.peek() == ')':
            self.i += 1
            return params
        while True:
            self.ws(True)
            pos = self.i
            attrs = []
            ptype = None
            while self.peek() == '[':
                a = self.attribute_or_type()
                if a.kind == 'attr':
                    if a.name.lower() != 'parameter':
                        self.error('The attribute [%s] cannot be used on a parameter here.' % a.name,
                                   pos=a.pos, fqid='UnexpectedAttribute')
                    attrs.append(a)
                elif ptype is not None:
                    self.error('A parameter may have one type constraint only.', pos=a.pos,
                               fqid='MultipleTypeConstraintsOnMethodParam')
                else:
                    ptype = a.name
                self.ws(True)
            if self.peek() != '$':
                self.need_more('Parameter declarations are a comma-separated list of variable names with '
                               'optional initializer expressions.', 'InvalidFunctionParameter')
            var = self.variable()
            if var.kind != 'var':
                self.error('A parameter name cannot have a scope or drive qualifier.', pos=var.pos,
                           fqid='InvalidFunctionParameter')
            if any(p.name.lower() == var.name.lower() for p in params):
                self.error("Duplicate parameter $%s in parameter list." % var.name, pos=var.pos,
                           fqid='DuplicateFormalParameter')
            self.ws(True)
            default = None
            if self.peek() == '=':
                self.i += 1
                self.ws(True)
                default = self.logical_noarray()
                self.ws(True)
            params.append(N('paramdecl', pos, name=var.name, type=ptype, attrs=attrs, default=default))
            if self.peek() == ',':
                self.i += 1
                continue
            if self.peek() == ')':
                self.i += 1
                return params
            self.need_more("Missing ')' in function parameter list.", 'MissingEndParenthesisInFunctionParameterList')

    def attribute_or_type(self):
        """[Name(arguments)] -- an attribute -- or [Type]."""
        pos = self.i
        self.i += 1
        self.ws()
        m = re.match(r'[A-Za-z_][\w.`]*(\[\])?', self.s[self.i:])
        if not m:
            self.need_more("Missing type name after '['.", 'MissingTypename')
        name = m.group(0)
        self.i += len(name)
        self.ws()
        if self.peek() != '(':
            if self.peek() != ']':
                self.need_more("Missing ']' after type name.", 'EndSquareBracketExpectedAtEndOfAttribute')
            self.i += 1
            return N('typeconstraint', pos, name=name)
        known = ATTRIBUTES.get(name.lower())
        if known is None:
            self.error('The attribute [%s] is not supported by the certsync test host.' % name, pos=pos,
                       fqid='UnsupportedAttribute')
        self.i += 1
        named = {}
        self.ws(True)
        if self.peek() != ')':
            while True:
                self.ws(True)
                apos = self.i
                m = re.match(r'([A-Za-z_]\w*)\s*(=(?!=))?', self.s[self.i:])
                if not m:
                    self.error('The attribute [%s] takes named arguments only here.' % known[0], pos=apos,
                               fqid='UnsupportedAttribute')
                arg = m.group(1)
                canon = known[1].get(arg.lower())
                if canon is None:
                    self.error("The argument '%s' of [%s] is not supported by the certsync test host." % (
                        arg, known[0]), pos=apos, fqid='UnsupportedAttribute')
                if canon in named:
                    self.error("Duplicate named argument '%s'." % arg, pos=apos, fqid='DuplicateNamedArgument')
                self.i += len(m.group(0))
                if m.group(2):
                    self.ws(True)
                    named[canon] = self.logical_noarray()
                else:
                    named[canon] = N('var', apos, name='true')     # [Parameter(Mandatory)]
                self.ws(True)
                if self.peek() == ',':
                    self.i += 1
                    continue
                break
        self.ws(True)
        if self.peek() != ')':
            self.need_more("Missing ')' in attribute.", 'MissingEndParenthesisInExpression')
        self.i += 1
        self.ws()
        if self.peek() != ']':
            self.need_more("Missing ']' after attribute.", 'EndSquareBracketExpectedAtEndOfAttribute')
        self.i += 1
        return N('attr', pos, name=known[0], args=named)

    def try_stmt(self):
        pos = self.i
        self.i += 3
        self.ws()
        if self.peek() != '{':
            self.need_more('Missing statement block after try.')
        body = self.block('after try')
        catches = []
        fin = None
        while True:
            kw = self.lookahead_keyword(('catch', 'finally'))
            if kw == 'catch':
                self.i += 5
                self.ws()
                types = []
                while self.peek() == '[':
                    types.append(self.type_name())
                    self.ws()
                    if self.peek() == ',':
                        self.i += 1
                        self.ws(True)
                catches.append((types, self.block('after catch')))
                continue
            if kw == 'finally':
                self.i += 7
                fin = self.block('after finally')
            break
        if not catches and fin is None:
            self.ws(True)
            raise ParseError('The Try statement is missing its Catch or Finally block.',
                             self.i, self.eof(), 'MissingCatchOrFinally')
        return N('try', pos, body=body, catches=catches, fin=fin)

    # -- pipelines --------------------------------------------------------
    def pipeline(self, allow_assign=False):
        self.ws()
        pos = self.i
        elements = []
        redirs = []
        first = True
        while True:
            self.ws()
            if self.eof() or self.peek() in '\n;)}':
                if elements:
                    self.need_more('An empty pipe element is not allowed.', 'EmptyPipeElement')
                self.need_more('Missing expression.', 'ExpectedExpression')
            el_pos = self.i
            if self.starts_expression():
                if not first:
                    self.error('Expressions are only allowed as the first element of a pipeline.',
                               fqid='ExpressionsMustBeFirstInPipeline')
                expr = self.expression()
                self.ws()
                if allow_assign and first:
                    op = None
                    for cand in ('+=', '-=', '='):
                        if self.s.startswith(cand, self.i) and self.peek(len(cand)) != '=':
                            op = cand
                            break
                    if op:
                        if expr.kind not in ('var', 'member', 'index'):
                            self.error('The assignment expression is not valid. The input to an '
                                       'assignment operator must be an object that is able to accept '
                                       'assignments, such as a variable or a property.',
                                       fqid='InvalidLeftHandSide')
                        self.i += len(op)
                        self.ws(True)
                        if self.eof():
                            self.need_more("You must provide a value expression following the '%s' operator." % op)
                        kw = re.match(r'(if|foreach|for|while|try)\b', self.s[self.i:], re.I)
                        value = self.statement() if kw else self.pipeline()
                        return N('assign', pos, target=expr, op=op, value=value)
                elements.append(N('exprcmd', el_pos, expr=expr))
            else:
                elements.append(self.command())
            first = False
            self.ws()
            # redirections of the pipeline's last element
            while True:
                m = re.match(r'(2>&1|\*>&1|[*1-6]?>>?|)', self.s[self.i:])
                tok = m.group(1)
                if tok and tok in ('2>&1', '*>&1'):
                    redirs.append((tok, None))
                    self.i += len(tok)
                    self.ws()
                    continue
                if tok and '>' in tok:
                    self.i += len(tok)
                    self.ws()
                    target = self.argument_value()
                    redirs.append((tok, target))
                    self.ws()
                    continue
                break
            if self.peek() == '|' and self.peek(1) != '|':
                self.i += 1
                self.ws(True)
                continue
            if self.peek() == '|' and self.peek(1) == '|':
                self.error("The token '||' is not a valid statement separator in this version.",
                           fqid='InvalidEndOfLine')
            if self.peek() == '&' and self.peek(1) == '&':
                self.error("The token '&&' is not a valid statement separator in this version.",
                           fqid='InvalidEndOfLine')
            break
        return N('pipeline', pos, elements=elements, redirs=redirs)

    def starts_expression(self):
        c = self.peek()
        if c == EOF or c in '$(@[' or c in SQUOTES or c in DQUOTES or c.isdigit():
            return True
        if c == '.' and self.peek(1).isdigit():
            return True
        if c == '!':
            return True
        if c == '+' and self.peek(1) == '+':
            return True
        if c in DASHES:
            n = self.peek(1)
            if n == '-' and self.peek(2) == '$':
                return True
            if n.isdigit() or n == '$' or n == '(':
                return True
            if re.match(r'[-\u2013\u2014\u2015](not|bnot)\b', self.s[self.i:], re.I):
                return True
            return False
        if c == '{':
            return True
        return False

    # -- commands ---------------------------------------------------------
    def command(self):
        pos = self.i
        call = False
        if self.peek() == '&' and self.peek(1) != '&':
            self.i += 1
            self.ws()
            call = True
            if self.peek() in '$(' or self.peek() in SQUOTES or self.peek() in DQUOTES:
                name = self.primary_postfix()
            elif self.peek() == '{':
                name = self.scriptblock()
            else:
                name = N('str', self.i, value=self.bareword_literal())
        elif self.peek() == '.' and self.peek(1) in ' \t':
            self.error('Dot-sourcing is not supported by the certsync test host.')
        else:
            if self.peek() in '{}':
                self.error("Unexpected token '%s' in expression or statement." % self.peek(),
                           fqid='UnexpectedToken')
            if self.peek() in '%?' and self.peek(1) in ' \t{':
                name_text = self.peek()
                self.i += 1
            else:
                name_text = self.bareword_literal()
            if not name_text:
                self.error("Unexpected token '%s' in expression or statement." % self.peek(),
                           fqid='UnexpectedToken')
            name = N('str', pos, value=name_text)
        args = []
        while True:
            self.ws()
            c = self.peek()
            if c == EOF or c in '\n;|)}':
                break
            if c == '&' and self.peek(1) == '&':
                break
            if re.match(r'(2>&1|\*>&1|[*1-6]?>)', self.s[self.i:]):
                break
            if c == '-' and self.s.startswith('--%', self.i):
                self.error('The stop-parsing symbol --% is not supported by the certsync test host.')
            if c in DASHES and (self.peek(1).isalpha() or self.peek(1) in '_?'):
                apos = self.i
                self.i += 1
                m = re.match(r'[A-Za-z_?][\w\-?]*', self.s[self.i:])
                pname = m.group(0)
                self.i += len(pname)
                if self.peek() == ':':
                    self.i += 1
                    self.ws()
                    val = self.argument_value()
                    args.append(N('param', apos, name=pname, value=val, colon=True))
                else:
                    args.append(N('param', apos, name=pname, value=None, colon=False))
                continue
            args.append(self.argument_value())
        return N('command', pos, name=name, args=args, call=call)

    def argument_value(self):
        """One argument in command mode, with comma arrays (POP,IMAP)."""
        pos = self.i
        items = [self.single_argument()]
        while True:
            save = self.i
            self.ws()
            if self.peek() == ',':
                self.i += 1
                self.ws(True)
                items.append(self.single_argument())
                continue
            self.i = save
            break
        if len(items) == 1:
            return items[0]
        return N('array', pos, items=items)

    def single_argument(self):
        c = self.peek()
        pos = self.i
        if c == EOF or c in '\n;|)}':
            self.need_more('Missing argument.', 'MissingArgument')
        if c == '$' or c == '(' or c == '@' or (c == '[' and False):
            node = self.primary_postfix()
            return self.glue(node, pos)
        if c in SQUOTES or c in DQUOTES:
            node = self.primary_postfix()
            return self.glue(node, pos)
        if c == '{':
            return self.scriptblock()
        return self.bareword(pos)

    def glue(self, node, pos):
        """'a'b or "x"$y in argument mode make one argument."""
        if self.peek() != EOF and self.peek() not in ' \t\n;|)},&' and not self.peek().isspace():
            rest = self.bareword(self.i)
            return N('concat', pos, parts=[node, rest])
        return node

    def bareword_literal(self):
        m = re.match(r'[^\s;|&(){},\'"\u2018\u2019\u201a\u201b\u201c\u201d\u201e$`]+', self.s[self.i:])
        if not m:
            return ''
        self.i += len(m.group(0))
        return m.group(0)

    def bareword(self, pos):
        """A generic token: literal text, $var expansions, quoted sections."""
        parts = []
        buf = []
        while True:
            c = self.peek()
            if c == EOF or c.isspace() or c in ';|&(),}':
                break
            if c == '{':
                self.error("A '{' inside an unquoted argument is not supported by the certsync "
                           "test host; quote the argument.", fqid='UnquotedBrace')
            if c == '`':
                n = self.peek(1)
                if n == EOF:
                    self.need_more('Missing character after escape.')
                buf.append(BACKTICK.get(n, n))
                self.i += 2
                continue
            if c in SQUOTES or c in DQUOTES:
                if buf:
                    parts.append(N('str', pos, value=''.join(buf)))
                    buf = []
                parts.append(self.string())
                continue
            if c == '$' and (is_word_char(self.peek(1)) or self.peek(1) in '{(?_'):
                if buf:
                    parts.append(N('str', pos, value=''.join(buf)))
                    buf = []
                if self.peek(1) == '(':
                    parts.append(self.subexpression())
                else:
                    parts.append(self.variable())
                continue
            buf.append(c)
            self.i += 1
        if buf:
            parts.append(N('str', pos, value=''.join(buf)))
        if not parts:
            self.error("Unexpected token '%s'." % self.peek(), fqid='UnexpectedToken')
        if len(parts) == 1 and parts[0].kind == 'str':
            return N('word', pos, value=parts[0].value)
        return N('concat', pos, parts=parts)

    # -- expressions ------------------------------------------------------
    def expression(self):
        return self.logical()

    def op_ahead(self, names):
        if self.peek() not in DASHES:
            return None
        m = re.match(r'[-\u2013\u2014\u2015]([ic]?)([A-Za-z]+)\b', self.s[self.i:])
        if not m:
            return None
        name = m.group(2).lower()
        if m.group(1) and name not in BINARY_CMP:
            name = (m.group(1) + name).lower()
        if name in names:
            return (m.group(0), name, m.group(1).lower())
        return None

    def logical(self):
        left = self.comparison()
        while True:
            self.ws()
            op = self.op_ahead(LOGICAL)
            if not op:
                return left
            pos = self.i
            self.i += len(op[0])
            self.ws(True)
            if self.eof():
                self.need_more("You must provide a value expression following the '-%s' operator." % op[1])
            right = self.comparison()
            left = N('binop', pos, op=op[1], left=left, right=right, case='')

    def comparison(self):
        left = self.additive()
        while True:
            self.ws()
            op = self.op_ahead(BINARY_CMP)
            if not op:
                return left
            pos = self.i
            self.i += len(op[0])
            self.ws(True)
            if self.eof():
                self.need_more("You must provide a value expression following the '-%s' operator." % op[1])
            if op[1] in ('is', 'isnot', 'as') and self.peek() == '[':
                right = N('type', self.i, name=self.type_name())
            else:
                right = self.additive()
            left = N('binop', pos, op=op[1], left=left, right=right, case=op[2])

    def additive(self):
        left = self.multiplicative()
        while True:
            self.ws()
            c = self.peek()
            if (c == '+' or c in DASHES) and self.peek(1) == '=':
                return left        # += / -= : an assignment, not an operand
            if c == '+' or (c in DASHES and not self.peek(1).isalpha()):
                pos = self.i
                self.i += 1
                self.ws(True)
                if self.eof():
                    self.need_more("You must provide a value expression following the '%s' operator." % c)
                right = self.multiplicative()
                left = N('binop', pos, op='+' if c == '+' else '-', left=left, right=right, case='')
            else:
                return left

    def multiplicative(self):
        left = self.format_expr()
        while True:
            self.ws()
            c = self.peek()
            if c in '*/%' and c and self.peek(1) != '>':
                pos = self.i
                self.i += 1
                self.ws(True)
                if self.eof():
                    self.need_more("You must provide a value expression following the '%s' operator." % c)
                right = self.format_expr()
                left = N('binop', pos, op=c, left=left, right=right, case='')
            else:
                return left

    def format_expr(self):
        left = self.array_expr()
        while True:
            self.ws()
            op = self.op_ahead({'f'})
            if not op:
                return left
            pos = self.i
            self.i += len(op[0])
            self.ws(True)
            right = self.array_expr()
            left = N('binop', pos, op='f', left=left, right=right, case='')

    def array_expr(self):
        pos = self.i
        first = self.unary()
        items = [first]
        while True:
            save = self.i
            self.ws()
            if self.peek() == ',':
                self.i += 1
                self.ws(True)
                if self.eof():
                    self.need_more("Missing expression after ','.")
                items.append(self.unary())
                continue
            self.i = save
            break
        if len(items) == 1:
            return first
        return N('array', pos, items=items)

    def unary(self):
        self.ws()
        pos = self.i
        c = self.peek()
        if c == '!':
            self.i += 1
            self.ws()
            return N('not', pos, expr=self.unary())
        if c in DASHES:
            m = re.match(r'[-\u2013\u2014\u2015]not\b', self.s[self.i:], re.I)
            if m:
                self.i += len(m.group(0))
                self.ws(True)
                return N('not', pos, expr=self.unary())
            if c == '-' and self.peek(1) == '-':
                self.i += 2
                return self.incr(self.unary(), -1, True, pos)
            self.i += 1
            return N('neg', pos, expr=self.unary())
        if c == '+' and self.peek(1) == '+':
            self.i += 2
            return self.incr(self.unary(), 1, True, pos)
        if c == ',':
            self.i += 1
            self.ws()
            return N('array', pos, items=[self.unary()])
        if c == '[':
            save = self.i
            tname = self.type_name()
            if self.s.startswith('::', self.i):
                self.i = save
                return self.primary_postfix()
            c2 = self.peek()
            if c2 and (c2 in '$(@[' or c2 in SQUOTES or c2 in DQUOTES or c2.isdigit() or c2 == '-'):
                return N('cast', pos, type=tname, expr=self.unary())
            self.i = save
        return self.primary_postfix()

    def type_name(self):
        pos = self.i
        if self.peek() != '[':
            self.error("Missing '['.")
        self.i += 1
        self.ws()
        m = re.match(r'[A-Za-z_][\w.`]*(\[\])?', self.s[self.i:])
        if not m:
            self.need_more('Missing type name after \'[\'.', 'MissingTypename')
        self.i += len(m.group(0))
        self.ws()
        if self.peek() != ']':
            self.need_more("Missing ']' after type name.", 'EndSquareBracketExpectedAtEndOfAttribute')
        self.i += 1
        return m.group(0)

    def incr(self, target, delta, prefix, pos):
        if target.kind not in ('var', 'member', 'index'):
            self.error("The '%s' operator works only on variables or on properties." % ('++' if delta > 0 else '--'),
                       pos=pos, fqid='OperatorRequiresVariableOrProperty')
        return N('incr', pos, target=target, delta=delta, prefix=prefix)

    def primary_postfix(self):
        node = self.primary()
        while True:
            c = self.peek()
            pos = self.i
            if c in '+-' and self.peek(1) == c and node.kind in ('var', 'member', 'index'):
                self.i += 2
                return self.incr(node, 1 if c == '+' else -1, False, node.pos)
            if c == '.' and (is_word_char(self.peek(1)) or self.peek(1) in SQUOTES + DQUOTES):
                self.i += 1
                node = self.member_tail(node, pos, static=False)
            elif c == ':' and self.peek(1) == ':':
                self.i += 2
                node = self.member_tail(node, pos, static=True)
            elif c == '[' and node.kind != 'type':
                self.i += 1
                self.ws(True)
                idx = self.expression()
                self.ws(True)
                if self.peek() != ']':
                    self.need_more("Array index expression is missing or not valid.")
                self.i += 1
                node = N('index', pos, obj=node, index=idx)
            else:
                return node

    def member_tail(self, obj, pos, static):
        c = self.peek()
        if c in SQUOTES or c in DQUOTES:
            name = self.string().value if c in SQUOTES else None
            if name is None:
                self.error('Dynamic member names are not supported by the certsync test host.')
        else:
            m = re.match(r'\w+', self.s[self.i:])
            if not m:
                self.error('Missing property name after reference operator.', True)
            name = m.group(0)
            self.i += len(name)
        if self.peek() == '(':
            self.i += 1
            args = []
            self.ws(True)
            if self.peek() != ')':
                while True:
                    self.ws(True)
                    args.append(self.unary_chain())
                    self.ws(True)
                    if self.peek() == ',':
                        self.i += 1
                        continue
                    break
            self.ws(True)
            if self.peek() != ')':
                self.need_more("Missing closing ')' in method call.")
            self.i += 1
            return N('call', pos, obj=obj, name=name, args=args, static=static)
        return N('member', pos, obj=obj, name=name, static=static)

    def unary_chain(self):
        """A method argument: an expression without the comma operator."""
        left = self.logical_noarray()
        return left

    def logical_noarray(self):
        # Method arguments are separated by commas, so parse below the
        # comma level: comparisons and arithmetic over unary operands.
        save_array = self.array_expr
        self.array_expr = self.unary
        try:
            return self.logical()
        finally:
            self.array_expr = save_array

    def primary(self):
        self.ws()
        pos = self.i
        c = self.peek()
        if c == EOF:
            self.need_more('Missing expression.')
        if c == '$':
            if self.peek(1) == '(':
                return self.subexpression()
            return self.variable()
        if c == '@':
            n = self.peek(1)
            if n == '(':
                self.i += 2
                body = self.statement_list(closer=')')
                self.i += 1
                return N('arrayexpr', pos, body=body)
            if n == '{':
                return self.hashtable()
            if n in SQUOTES or n in DQUOTES:
                return self.herestring()
            self.error("Unrecognized token in source text.", fqid='UnrecognizedToken')
        if c == '(':
            self.i += 1
            self.ws(True)
            if self.peek() == ')':
                self.error('An expression was expected after \'(\'.', fqid='ExpectedExpression')
            inner = self.statement()
            self.ws(True)
            if self.peek() != ')':
                self.need_more("Missing closing ')' in expression.", 'MissingEndParenthesisInExpression')
            self.i += 1
            return N('paren', pos, inner=inner)
        if c in SQUOTES or c in DQUOTES:
            return self.string()
        if c == '[':
            return N('type', pos, name=self.type_name())
        if c == '{':
            return self.scriptblock()
        if c.isdigit() or (c == '.' and self.peek(1).isdigit()):
            return self.number()
        self.error("Unexpected token '%s' in expression or statement." % self.token_text(),
                   fqid='UnexpectedToken')

    def number(self):
        pos = self.i
        m = re.match(r'0[xX][0-9A-Fa-f]+|\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+|\d+(?:[eE][+-]?\d+)?',
                     self.s[self.i:])
        text = m.group(0)
        self.i += len(text)
        mult = 1
        m2 = re.match(r'(kb|mb|gb|tb)\b', self.s[self.i:], re.I)
        if m2:
            mult = {'kb': 1024, 'mb': 1024 ** 2, 'gb': 1024 ** 3, 'tb': 1024 ** 4}[m2.group(1).lower()]
            self.i += 2
        if is_word_char(self.peek()):
            self.error("Unexpected token '%s' in expression or statement." % self.token_text(),
                       fqid='UnexpectedToken')
        if text.lower().startswith('0x'):
            val = int(text, 16)
        elif '.' in text or 'e' in text.lower():
            val = float(text)
        else:
            val = int(text)
        return N('num', pos, value=val * mult if mult != 1 else val)

    def variable(self):
        """$name, ${any name}, $env:NAME.  As in Windows PowerShell's
        tokenizer, '?' is a name character after the first one: "$x?" is
        the variable x? (write ${x}? or $($x)? for x then a '?')."""
        pos = self.i
        self.i += 1  # $
        if self.peek() == '{':
            end = self.s.find('}', self.i)
            if end < 0:
                self.error("Missing closing '}' in variable name.", True)
            name = self.s[self.i + 1:end]
            self.i = end + 1
            m = re.match(r'^(env|script|global|local|private):(.+)$', name, re.I | re.S)
            if m and m.group(1).lower() == 'env':
                return N('envvar', pos, name=m.group(2))
            return N('var', pos, name=m.group(2) if m else name)
        if self.peek() == '?' or (self.peek() == '_' and not is_word_char(self.peek(1))
                                  and self.peek(1) not in ':?'):
            name = self.peek()
            self.i += 1
            return N('var', pos, name=name)
        m = re.match(r'(?:(env|script|global|local|private|using):)?(\w[\w?]*)', self.s[self.i:], re.I)
        if not m:
            self.error("Invalid variable reference. '$' was not followed by a valid variable "
                       "name character.", fqid='InvalidVariableReference')
        self.i += len(m.group(0))
        scope = (m.group(1) or '').lower()
        if scope == 'env':
            return N('envvar', pos, name=m.group(2))
        if scope in ('using',):
            self.error('$using: is not supported by the certsync test host.')
        return N('var', pos, name=m.group(2))

    def subexpression(self):
        pos = self.i
        self.i += 2  # $(
        body = self.statement_list(closer=')')
        self.i += 1
        return N('subexpr', pos, body=body)

    def scriptblock(self):
        pos = self.i
        self.i += 1
        start = self.i
        params = self.param_block()
        body = self.statement_list(closer='}')
        text = self.s[start:self.i]
        self.i += 1
        return N('scriptblock', pos, params=params, body=body, text=text)

    def hashtable(self):
        pos = self.i
        self.i += 2  # @{
        entries = []
        while True:
            while True:
                self.ws(True)
                if self.peek() == ';':
                    self.i += 1
                    continue
                break
            if self.eof():
                self.error("Missing closing '}' in hash literal.", True, fqid='MissingEndCurlyBrace')
            if self.peek() == '}':
                self.i += 1
                return N('hash', pos, entries=entries)
            kpos = self.i
            c = self.peek()
            if c in SQUOTES or c in DQUOTES:
                key = self.string()
            elif c.isdigit():
                key = self.number()
            elif c == '$' or c == '(':
                key = self.primary_postfix()
            else:
                m = re.match(r'[\w.\-]+', self.s[self.i:])
                if not m:
                    self.error("Missing key before '=' in hash literal.", fqid='MissingEqualsInHashLiteral')
                self.i += len(m.group(0))
                key = N('str', kpos, value=m.group(0))
            self.ws()
            if self.peek() != '=':
                self.need_more("Missing '=' operator after key in hash literal.",
                               'MissingEqualsInHashLiteral')
            self.i += 1
            self.ws(True)
            if self.eof():
                self.need_more("Missing statement after '=' in hash literal.")
            value = self.statement()
            entries.append((key, value))
            self.ws()
            if self.peek() not in ('\n', ';', '}', EOF):
                self.error("Missing '=' operator after key in hash literal.",
                           fqid='MissingEqualsInHashLiteral')

    # -- strings ----------------------------------------------------------
    def string(self):
        pos = self.i
        c = self.peek()
        self.i += 1
        if c in SQUOTES:
            out = []
            while True:
                if self.eof():
                    self.error("The string is missing the terminator: '.", True,
                               pos=pos, fqid='TerminatorExpectedAtEndOfString')
                ch = self.s[self.i]
                if ch in SQUOTES:
                    if self.peek(1) in SQUOTES:
                        out.append(self.peek(1))
                        self.i += 2
                        continue
                    self.i += 1
                    return N('str', pos, value=''.join(out))
                out.append(ch)
                self.i += 1
        return self.expandable(pos, lambda: self.peek() in DQUOTES, doubled=True)

    def expandable(self, pos, at_end, doubled):
        parts = []
        buf = []
        while True:
            if not doubled and self.eof():
                break
            if self.eof():
                self.error('The string is missing the terminator: ".', True, pos=pos,
                           fqid='TerminatorExpectedAtEndOfString')
            ch = self.s[self.i]
            if at_end():
                if doubled and self.peek(1) in DQUOTES:
                    buf.append(self.peek(1))
                    self.i += 2
                    continue
                self.i += 1 if doubled else 0
                break
            if ch == '`':
                n = self.peek(1)
                if n == EOF:
                    self.i += 1
                    continue
                buf.append(BACKTICK.get(n, n))
                self.i += 2
                continue
            if ch == '$':
                n = self.peek(1)
                if n == '(':
                    if buf:
                        parts.append(''.join(buf))
                        buf = []
                    parts.append(self.subexpression())
                    continue
                if is_word_char(n) or n in '{?':
                    if buf:
                        parts.append(''.join(buf))
                        buf = []
                    parts.append(self.variable())
                    continue
            buf.append(ch)
            self.i += 1
        if buf:
            parts.append(''.join(buf))
        if all(isinstance(p, str) for p in parts):
            return N('str', pos, value=''.join(parts))
        return N('xstr', pos, parts=parts)

    def herestring(self):
        pos = self.i
        quote = self.peek(1)
        self.i += 2
        # The opening quote must end its line.
        m = re.match(r'[ \t]*\n', self.s[self.i:])
        if not m:
            self.error('No characters are allowed after a here-string header but before the end '
                       'of the line.', fqid='UnexpectedCharactersAfterHereStringHeader')
        self.i += len(m.group(0))
        closers = SQUOTES if quote in SQUOTES else DQUOTES
        # Find "\n'@" (closing at the start of a line).
        j = self.i
        end = -1
        first_line = True
        while j <= len(self.s):
            line_start = j
            if (self.s[line_start:line_start + 1] in closers and self.s[line_start:line_start + 1]
                    and self.s[line_start + 1:line_start + 2] == '@'):
                end = line_start
                break
            nl = self.s.find('\n', j)
            if nl < 0:
                break
            j = nl + 1
            first_line = False
        if end < 0:
            self.i = len(self.s)
            self.error('The string is missing the terminator: %s@.' % quote, True, pos=pos,
                       fqid='TerminatorExpectedAtEndOfString')
        content_end = end - 1 if end > self.i else self.i
        raw = self.s[self.i:content_end] if not first_line or end > self.i else ''
        if quote in SQUOTES:
            self.i = end + 2
            return N('str', pos, value=raw)
        sub = Parser(raw)
        node = sub.expandable(pos, lambda: sub.eof(), doubled=False) if raw else N('str', pos, value='')
        self.i = end + 2
        return node


def parse(src):
    """A script's statements; a param() block, if any, is the first (kind
    'params')."""
    return Parser(src).parse_script()


def parse_scriptblock(src):
    """A whole text as a script block ([ScriptBlock]::Create, a script
    file): its param() block apart from its statements."""
    body = Parser(src).parse_script()
    params = body.pop(0) if body and body[0].kind == 'params' else None
    return N('scriptblock', 0, params=params, body=body, text=src)


def is_incomplete(src):
    try:
        parse(src)
        return False
    except ParseError as e:
        return e.incomplete
