//===- Parser.cpp - Lexer and recursive-descent parser of .attn files ---------===//
//
//   file      := (pattern | param | let | 'mask' NAME '=' expr)*
//   pattern   := 'attention' NAME '{' clause* '}'
//   clause    := param | let | scalar | input
//              | 'mask' expr | 'score' expr | 'weight' expr
//              | 'normalize' ('softmax' | 'sigmoid' | 'none') ['(' option (',' option)* ')']
//              | 'heads' INT [',' INT] | 'head_dim' INT [',' INT] | 'varlen' | 'output' 'lse'
//              | 'linear' '{' [litem (';' litem)* [';']] '}'
//              | 'branch' NAME ['(' NAME '=' NAME (',' NAME '=' NAME)* ')'] '{' clause* '}'
//              | 'combine' expr                                       (a composite)
//   litem     := 'feature' expr | 'decay' expr | 'causal'
//              | 'normalize' ('none' | 'sum') ['(' option (',' option)* ')']
//   param     := 'param' NAME ':' type '=' expr ['in' '[' expr ',' expr ']']
//   let       := 'let' NAME '=' expr
//   scalar    := 'scalar' NAME ['=' expr]
//   input     := 'input' NAME ':' type '[' expr (',' expr)* ']'
//   option    := NAME '=' expr;    type := 'int' | 'float' | 'bool' | 'elem' (inputs)
//   expr      := or;  or := and ('||' and)*;  and := cmp ('&&' cmp)*
//   cmp       := add [('<' | '<=' | '>' | '>=' | '==' | '!=') add]
//   add       := mul (('+' | '-') mul)*;  mul := unary (('*' | '/' | '%') unary)*
//   unary     := ('-' | '!') unary | primary
//   primary   := NUMBER | NAME | NAME '(' [expr (',' expr)*] ')' | NAME '[' expr (',' expr)* ']'
//              | '(' expr ')'
// '#' starts a comment to the end of the line. Names and types are checked later, by MLIRGen.
//
//===----------------------------------------------------------------------===//
#include "attn/Frontend/Parser.h"

#include "llvm/ADT/StringSwitch.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

using namespace attnc;
using namespace attnc::ast;
using llvm::SMLoc;
using llvm::SourceMgr;
using llvm::StringRef;

namespace {

struct Token {
  enum class Kind { End, Name, Number, Punct, Error };
  Kind kind = Kind::End;
  StringRef text;
  SMLoc loc;
};

class Lexer {
public:
  explicit Lexer(StringRef buffer) : buffer(buffer), pos(0) {}

  Token next() {
    skipSpaceAndComments();
    Token tok;
    tok.loc = SMLoc::getFromPointer(buffer.data() + pos);
    if (pos >= buffer.size())
      return tok;
    char c = buffer[pos];
    size_t start = pos;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (pos < buffer.size() &&
             (std::isalnum(static_cast<unsigned char>(buffer[pos])) || buffer[pos] == '_'))
        ++pos;
      tok.kind = Token::Kind::Name;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && pos + 1 < buffer.size() &&
                std::isdigit(static_cast<unsigned char>(buffer[pos + 1])))) {
      lexNumber();
      tok.kind = Token::Kind::Number;
    } else {
      static const char *twoChar[] = {"<=", ">=", "==", "!=", "&&", "||"};
      tok.kind = Token::Kind::Punct;
      pos += 1;
      for (const char *p : twoChar)
        if (buffer.substr(start).starts_with(p)) {
          pos = start + 2;
          break;
        }
      if (pos == start + 1 && !StringRef("{}()[]+-*/%<>!,:=;").contains(c)) {
        tok.kind = Token::Kind::Error;
        // A multi-byte UTF-8 character is one token.
        while ((static_cast<unsigned char>(c) & 0xC0) == 0xC0 && pos < buffer.size() &&
               (static_cast<unsigned char>(buffer[pos]) & 0xC0) == 0x80)
          ++pos;
      }
    }
    tok.text = buffer.slice(start, pos);
    return tok;
  }

private:
  void skipSpaceAndComments() {
    while (pos < buffer.size()) {
      if (std::isspace(static_cast<unsigned char>(buffer[pos]))) {
        ++pos;
      } else if (buffer[pos] == '#') {
        while (pos < buffer.size() && buffer[pos] != '\n')
          ++pos;
      } else {
        return;
      }
    }
  }
  void lexNumber() {
    auto digits = [&] {
      while (pos < buffer.size() && std::isdigit(static_cast<unsigned char>(buffer[pos])))
        ++pos;
    };
    digits();
    if (pos < buffer.size() && buffer[pos] == '.') {
      ++pos;
      digits();
    }
    if (pos < buffer.size() && (buffer[pos] == 'e' || buffer[pos] == 'E')) {
      size_t save = pos++;
      if (pos < buffer.size() && (buffer[pos] == '+' || buffer[pos] == '-'))
        ++pos;
      if (pos < buffer.size() && std::isdigit(static_cast<unsigned char>(buffer[pos])))
        digits();
      else
        pos = save;
    }
  }

  StringRef buffer;
  size_t pos;
};

class Parser {
public:
  explicit Parser(SourceMgr &sourceMgr)
      : sourceMgr(sourceMgr),
        lexer(sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBuffer()) {
    advance();
  }

  std::optional<File> parseFile() {
    File file;
    while (tok.kind != Token::Kind::End && !failed) {
      SMLoc loc = tok.loc;
      if (is("attention")) {
        std::optional<Pattern> pattern = parsePattern();
        if (!pattern)
          return std::nullopt;
        file.patterns.push_back(std::move(*pattern));
      } else if (consume("param")) {
        if (!parseParam(file.params, loc))
          return std::nullopt;
      } else if (consume("let")) {
        if (!parseLet(file.lets, loc, /*isMask=*/false))
          return std::nullopt;
      } else if (consume("mask")) {
        if (!parseLet(file.lets, loc, /*isMask=*/true))
          return std::nullopt;
      } else {
        error(loc,
              "expected 'attention', 'param', 'let' or 'mask NAME = ...', found " + describe());
        return std::nullopt;
      }
    }
    if (failed)
      return std::nullopt;
    if (file.patterns.empty()) {
      error(tok.loc, "expected 'attention NAME { ... }'");
      return std::nullopt;
    }
    return file;
  }

private:
  void advance() {
    tok = lexer.next();
    if (tok.kind == Token::Kind::Error)
      error(tok.loc, "unexpected character " + describeCharacter(tok.text));
  }
  /// 'x' for a printable ASCII character, U+XXXX for other UTF-8, \xNN for other bytes.
  static std::string describeCharacter(StringRef text) {
    unsigned char c = text.empty() ? 0 : static_cast<unsigned char>(text[0]);
    char buffer[32];
    if (c >= 0x20 && c < 0x7f)
      return "'" + text.str() + "'";
    if (text.size() > 1) {
      unsigned bits = c & (c >= 0xF0 ? 0x07 : c >= 0xE0 ? 0x0F : 0x1F);
      for (char cont : text.drop_front())
        bits = (bits << 6) | (static_cast<unsigned char>(cont) & 0x3F);
      std::snprintf(buffer, sizeof buffer, "U+%04X", bits);
      return buffer;
    }
    std::snprintf(buffer, sizeof buffer, "byte \\x%02X", c);
    return buffer;
  }
  bool is(StringRef text) const {
    return (tok.kind == Token::Kind::Punct || tok.kind == Token::Kind::Name) && tok.text == text;
  }
  bool consume(StringRef text) {
    if (!is(text))
      return false;
    advance();
    return true;
  }
  bool expect(StringRef text, StringRef context) {
    if (consume(text))
      return true;
    error(tok.loc, "expected '" + text.str() + "' " + context.str() + ", found " + describe());
    return false;
  }
  std::string describe() const {
    if (tok.kind == Token::Kind::End)
      return "end of file";
    return "'" + tok.text.str() + "'";
  }
  std::nullopt_t error(SMLoc loc, const llvm::Twine &message) {
    if (!failed)
      sourceMgr.PrintMessage(loc, SourceMgr::DK_Error, message);
    failed = true;
    return std::nullopt;
  }
  /// Reads a NAME token into `name`.
  bool parseName(std::string &name, SMLoc &loc, StringRef what) {
    loc = tok.loc;
    if (tok.kind != Token::Kind::Name) {
      error(tok.loc, "expected " + what + ", found " + describe());
      return false;
    }
    name = tok.text.str();
    advance();
    return true;
  }
  /// int, float, bool, or for an input (`elem`) also the kernel's element type.
  bool parseType(Type &type, bool input = false) {
    std::optional<Type> t = llvm::StringSwitch<std::optional<Type>>(tok.text)
                                .Case("int", Type::Int)
                                .Case("float", Type::Float)
                                .Case("bool", Type::Bool)
                                .Case("elem", Type::Elem)
                                .Default(std::nullopt);
    if (tok.kind != Token::Kind::Name || !t || (t == Type::Elem && !input)) {
      error(tok.loc, llvm::Twine("expected a type (int, float") +
                         (input ? ", bool or elem" : " or bool") + "), found " + describe());
      return false;
    }
    type = *t;
    advance();
    return true;
  }
  /// A positive integer literal.
  bool parseCount(int64_t &value, StringRef what) {
    if (tok.kind != Token::Kind::Number || tok.text.find_first_of(".eE") != StringRef::npos) {
      error(tok.loc, "expected an integer for " + what + ", found " + describe());
      return false;
    }
    if (tok.text.getAsInteger(10, value) || value <= 0 || value > (1 << 20)) {
      error(tok.loc, what + " must be in [1, 1048576], got " + tok.text);
      return false;
    }
    advance();
    return true;
  }

  bool parseParam(std::vector<Param> &params, SMLoc) {
    Param param;
    if (!parseName(param.name, param.loc, "a parameter name") ||
        !expect(":", "after the parameter name") || !parseType(param.type) ||
        !expect("=", "before the parameter's value"))
      return false;
    param.value = parseExpr();
    if (!param.value)
      return false;
    if (consume("in")) {
      if (!expect("[", "to open the parameter's range"))
        return false;
      param.rangeLo = parseExpr();
      if (!param.rangeLo || !expect(",", "between the range's bounds"))
        return false;
      param.rangeHi = parseExpr();
      if (!param.rangeHi || !expect("]", "to close the parameter's range"))
        return false;
    }
    params.push_back(std::move(param));
    return true;
  }

  bool parseLet(std::vector<Let> &lets, SMLoc, bool isMask) {
    Let let;
    let.isMask = isMask;
    if (!parseName(let.name, let.loc, isMask ? "a mask name" : "a name after 'let'") ||
        !expect("=", isMask ? "after the mask's name" : "after the name"))
      return false;
    let.value = parseExpr();
    if (!let.value)
      return false;
    lets.push_back(std::move(let));
    return true;
  }

  std::optional<Pattern> parsePattern() {
    advance(); // 'attention'
    Pattern pattern;
    if (!parseName(pattern.name, pattern.loc, "a pattern name after 'attention'"))
      return std::nullopt;
    if (!expect("{", "to open the pattern body") || !parseBody(pattern, "pattern"))
      return std::nullopt;
    return failed ? std::nullopt : std::optional<Pattern>(std::move(pattern));
  }

  /// The clauses of a pattern's or branch's body up to its '}' (consumed), then the default
  /// normaliser (none for a linear form, else softmax).
  bool parseBody(Pattern &pattern, StringRef what) {
    while (!is("}")) {
      if (tok.kind == Token::Kind::End) {
        error(tok.loc, "expected '}' to close " + what + " '" + pattern.name + "'");
        return false;
      }
      if (!parseClause(pattern))
        return false;
    }
    advance();
    if (!pattern.normalizer)
      pattern.normalizer = pattern.linear ? Normalizer::None : Normalizer::Softmax;
    return true;
  }

  bool duplicate(SMLoc loc, StringRef what) {
    error(loc, "pattern has more than one '" + what + "'");
    return false;
  }

  bool parseClause(Pattern &pattern) {
    SMLoc loc = tok.loc;
    if (consume("mask"))
      return parseExprClause(pattern.mask, loc, "mask");
    if (consume("score"))
      return parseExprClause(pattern.score, loc, "score");
    if (consume("weight"))
      return parseExprClause(pattern.weight, loc, "weight");
    if (consume("normalize"))
      return parseNormalize(pattern, loc);
    if (consume("linear"))
      return parseLinear(pattern, loc);
    if (consume("branch"))
      return parseBranch(pattern, loc);
    if (consume("combine"))
      return parseExprClause(pattern.combine, loc, "combine");
    if (consume("param"))
      return parseParam(pattern.params, loc);
    if (consume("let"))
      return parseLet(pattern.lets, loc, /*isMask=*/false);
    if (consume("scalar")) {
      Scalar scalar;
      if (!parseName(scalar.name, scalar.loc, "a scalar name"))
        return false;
      if (consume("=") && !(scalar.defaultValue = parseExpr()))
        return false;
      pattern.scalars.push_back(std::move(scalar));
      return true;
    }
    if (consume("input")) {
      Input input;
      if (!parseName(input.name, input.loc, "an input name") ||
          !expect(":", "after the input name") || !parseType(input.type, /*input=*/true) ||
          !expect("[", "to open the input's shape"))
        return false;
      do {
        ExprPtr dim = parseExpr();
        if (!dim)
          return false;
        input.shape.push_back(std::move(dim));
      } while (consume(","));
      if (!expect("]", "to close the input's shape"))
        return false;
      pattern.inputs.push_back(std::move(input));
      return true;
    }
    if (consume("heads")) {
      if (pattern.heads)
        return duplicate(loc, "heads");
      pattern.headsLoc = loc;
      int64_t heads = 0, kvHeads = 0;
      if (!parseCount(heads, "'heads'"))
        return false;
      kvHeads = heads;
      if (consume(",") && !parseCount(kvHeads, "the number of KV heads"))
        return false;
      pattern.heads = heads;
      pattern.kvHeads = kvHeads;
      return true;
    }
    if (consume("head_dim")) {
      if (pattern.headDim)
        return duplicate(loc, "head_dim");
      pattern.headDimLoc = loc;
      int64_t d = 0, dv = 0;
      if (!parseCount(d, "'head_dim'"))
        return false;
      dv = d;
      if (consume(",") && !parseCount(dv, "the value head dim"))
        return false;
      pattern.headDim = d;
      pattern.headDimV = dv;
      return true;
    }
    if (consume("varlen")) {
      if (pattern.varlen)
        return duplicate(loc, "varlen");
      pattern.varlen = true;
      return true;
    }
    if (consume("output")) {
      if (!expect("lse", "after 'output' (the only side output is the log-sum-exp)"))
        return false;
      if (pattern.lse)
        return duplicate(loc, "output lse");
      pattern.lse = true;
      return true;
    }
    if (is(";")) {
      error(loc, "clauses are not terminated by ';' (it separates the items of 'linear { }')");
      return false;
    }
    error(loc, "expected a clause (mask, score, weight, normalize, linear, param, let, scalar, "
               "input, heads, head_dim, varlen, output, branch, combine), found " +
                   describe());
    return false;
  }

  /// `branch NAME { clauses }`: a pattern inside a composite (MLIRGen checks which clauses).
  bool parseBranch(Pattern &pattern, SMLoc loc) {
    if (inBranch) {
      error(loc, "a branch cannot hold branches");
      return false;
    }
    Pattern branch;
    if (!parseName(branch.name, branch.loc, "a branch name after 'branch'"))
      return false;
    // `(q = INPUT, k = INPUT)`: the branch's own queries and keys.
    if (consume("(")) {
      do {
        std::string key, value;
        SMLoc keyLoc, valueLoc;
        if (!parseName(key, keyLoc, "'q' or 'k'") || !expect("=", "after '" + key + "'") ||
            !parseName(value, valueLoc, "an input's name"))
          return false;
        std::string *slot = key == "q" ? &branch.ownQ : key == "k" ? &branch.ownK : nullptr;
        if (!slot) {
          error(keyLoc, "a branch takes 'q = INPUT' and 'k = INPUT', not '" + key + "'");
          return false;
        }
        if (!slot->empty()) {
          error(keyLoc, "'" + key + "' is given twice for branch '" + branch.name + "'");
          return false;
        }
        *slot = value;
        (key == "q" ? branch.ownQLoc : branch.ownKLoc) = valueLoc;
      } while (consume(","));
      if (!expect(")", "to close the branch's q and k"))
        return false;
    }
    if (!expect("{", "to open the branch body"))
      return false;
    inBranch = true;
    const bool ok = parseBody(branch, "branch");
    inBranch = false;
    if (!ok || failed)
      return false;
    pattern.branches.push_back(std::move(branch));
    return true;
  }

  bool parseExprClause(ExprPtr &slot, SMLoc loc, StringRef what) {
    if (slot)
      return duplicate(loc, what);
    slot = parseExpr();
    return slot != nullptr;
  }

  bool parseNormalize(Pattern &pattern, SMLoc loc) {
    if (pattern.normalizer)
      return duplicate(loc, "normalize");
    pattern.normalizerLoc = tok.loc;
    std::optional<Normalizer> kind = llvm::StringSwitch<std::optional<Normalizer>>(tok.text)
                                         .Case("softmax", Normalizer::Softmax)
                                         .Case("sigmoid", Normalizer::Sigmoid)
                                         .Case("none", Normalizer::None)
                                         .Case("sum", Normalizer::Sum)
                                         .Default(std::nullopt);
    if (tok.kind != Token::Kind::Name || !kind) {
      error(tok.loc, "expected 'softmax', 'sigmoid', 'none' or 'sum' after 'normalize', found " +
                         describe());
      return false;
    }
    pattern.normalizer = kind;
    advance();
    if (!consume("("))
      return true;
    do {
      Option option;
      if (!parseName(option.name, option.loc, "a normaliser option (scale, temperature, bias)") ||
          !expect("=", "after '" + option.name + "'"))
        return false;
      option.value = parseExpr();
      if (!option.value)
        return false;
      pattern.normalizerOptions.push_back(std::move(option));
    } while (consume(","));
    return expect(")", "to close the normaliser options");
  }

  /// `linear { feature E; decay E; normalize none|sum; causal }`, items in any order.
  bool parseLinear(Pattern &pattern, SMLoc loc) {
    if (pattern.linear)
      return duplicate(loc, "linear");
    Linear &linear = pattern.linear.emplace();
    linear.loc = loc;
    if (!expect("{", "to open the linear form"))
      return false;
    while (!consume("}")) {
      SMLoc at = tok.loc;
      if (consume(";"))
        continue;
      if (consume("feature")) {
        if (linear.feature)
          return duplicate(at, "feature");
        if (!(linear.feature = parseExpr()))
          return false;
      } else if (consume("decay")) {
        if (linear.decay)
          return duplicate(at, "decay");
        if (!(linear.decay = parseExpr()))
          return false;
      } else if (consume("causal")) {
        if (linear.causal)
          return duplicate(at, "causal");
        linear.causal = true;
      } else if (consume("normalize")) {
        if (!parseNormalize(pattern, at))
          return false;
      } else {
        error(at, "expected 'feature', 'decay', 'normalize', 'causal' or '}' in the linear form, "
                  "found " +
                      describe());
        return false;
      }
    }
    return true;
  }

  /// Depth of the tree under `e` (the consumers recurse over it).
  static int treeDepth(const Expr &e) { return e.depth; }

  ExprPtr makeNode(Expr::Kind kind, SMLoc loc, std::string name, std::vector<ExprPtr> operands) {
    int depth = 1;
    for (const ExprPtr &operand : operands)
      depth = std::max(depth, operand->depth + 1);
    if (depth > kMaxTreeDepth) {
      error(loc, "expression is too long: more than " + llvm::Twine(kMaxTreeDepth) +
                     " nested operations (split it with 'let')");
      return nullptr;
    }
    auto e = std::make_unique<Expr>();
    e->depth = depth;
    e->kind = kind;
    e->loc = loc;
    e->name = std::move(name);
    e->operands = std::move(operands);
    return e;
  }

  ExprPtr parseExpr() {
    if (++depth > kMaxDepth) {
      error(tok.loc, "expression nests deeper than " + llvm::Twine(kMaxDepth) + " levels");
      return nullptr;
    }
    ExprPtr e = parseBinary(0);
    --depth;
    return e;
  }

  /// Precedence climbing over the binary operator levels, loosest first.
  ExprPtr parseBinary(int level) {
    static const std::vector<std::vector<StringRef>> levels = {
        {"||"}, {"&&"}, {"<", "<=", ">", ">=", "==", "!="}, {"+", "-"}, {"*", "/", "%"}};
    if (level == static_cast<int>(levels.size()))
      return parseUnary();
    ExprPtr lhs = parseBinary(level + 1);
    while (lhs && tok.kind == Token::Kind::Punct && llvm::is_contained(levels[level], tok.text)) {
      std::string op = tok.text.str();
      SMLoc loc = tok.loc;
      advance();
      ExprPtr rhs = parseBinary(level + 1);
      if (!rhs)
        return nullptr;
      std::vector<ExprPtr> operands;
      operands.push_back(std::move(lhs));
      operands.push_back(std::move(rhs));
      lhs = makeNode(Expr::Kind::Binary, loc, op, std::move(operands));
      if (!lhs)
        return nullptr;
      if (level == 2 && tok.kind == Token::Kind::Punct &&
          llvm::is_contained(levels[level], tok.text)) {
        error(tok.loc, "comparisons do not chain; combine them with '&&'");
        return nullptr;
      }
    }
    return lhs;
  }

  ExprPtr parseUnary() {
    if (is("-") || is("!")) {
      std::string op = tok.text.str();
      SMLoc loc = tok.loc;
      advance();
      if (++depth > kMaxDepth) {
        error(loc, "expression nests deeper than " + llvm::Twine(kMaxDepth) + " levels");
        return nullptr;
      }
      ExprPtr operand = parseUnary();
      --depth;
      if (!operand)
        return nullptr;
      std::vector<ExprPtr> operands;
      operands.push_back(std::move(operand));
      return makeNode(Expr::Kind::Unary, loc, op, std::move(operands));
    }
    return parsePrimary();
  }

  /// `(` or `[` already consumed: a comma-separated list up to `close`.
  bool parseList(std::vector<ExprPtr> &items, StringRef close, const std::string &context) {
    if (!is(close)) {
      do {
        ExprPtr item = parseExpr();
        if (!item)
          return false;
        items.push_back(std::move(item));
      } while (consume(","));
    }
    return expect(close, context);
  }

  ExprPtr parsePrimary() {
    SMLoc loc = tok.loc;
    if (tok.kind == Token::Kind::Number) {
      auto e = makeNode(Expr::Kind::Number, loc, "", {});
      e->number = std::strtod(tok.text.str().c_str(), nullptr);
      e->isInteger = tok.text.find_first_of(".eE") == StringRef::npos;
      if (e->isInteger && e->number > 2147483647.0) {
        error(loc, "integer literal " + tok.text + " does not fit in 32 bits");
        return nullptr;
      }
      advance();
      return e;
    }
    if (tok.kind == Token::Kind::Name) {
      std::string name = tok.text.str();
      advance();
      std::vector<ExprPtr> args;
      if (consume("(")) {
        if (!parseList(args, ")", "to close the call of '" + name + "'"))
          return nullptr;
        return makeNode(Expr::Kind::Call, loc, name, std::move(args));
      }
      if (consume("[")) {
        if (!parseList(args, "]", "to close the index of '" + name + "'"))
          return nullptr;
        if (args.empty()) {
          error(loc, "'" + name + "[]' needs at least one index");
          return nullptr;
        }
        return makeNode(Expr::Kind::Index, loc, name, std::move(args));
      }
      return makeNode(Expr::Kind::Name, loc, name, {});
    }
    if (consume("(")) {
      ExprPtr inner = parseExpr();
      if (!inner || !expect(")", "to close '('"))
        return nullptr;
      return inner;
    }
    error(loc, "expected an expression, found " + describe());
    return nullptr;
  }

  static constexpr int kMaxDepth = 200;      // parentheses, calls, unary operators
  static constexpr int kMaxTreeDepth = 1000; // operations on the longest path of one expression
  SourceMgr &sourceMgr;
  Lexer lexer;
  Token tok;
  bool failed = false;
  int depth = 0;
  bool inBranch = false; // parsing the clauses of a `branch { }`
};

} // namespace

std::optional<File> attnc::parseAttnFile(SourceMgr &sourceMgr) {
  Parser parser(sourceMgr);
  return parser.parseFile();
}
