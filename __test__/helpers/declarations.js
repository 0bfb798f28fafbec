'use strict';

/**
 * What index.d.ts declares, read with the TypeScript compiler's own parser (typescript is a dev
 * dependency), for the suites that check a declared list against the one the package exports.
 * A declaration of another shape than the one asked for throws, so a check cannot pass by
 * reading nothing.
 *
 *   const { declaredObject, declaredUnion } = require('./helpers/declarations');
 *
 * declaredObject(name) -> [[property, value], ...]
 *   The members of `export declare const <name>: { readonly P: 'v', ... }`, in order; every
 *   member must be a string literal.
 * declaredUnion(name) -> { values: ['a', ...], doc: text }
 *   `export type <name> = 'a' | 'b' | ...`: its string literals in order, and the comment before
 *   it (its JSDoc).
 * declaredAlias(name) -> text
 *   The right side of `export type <name> = ...`, as written.
 * stringLiteralTypes() -> ['a', ...]
 *   Every string literal type in the file (comments are not read), in order.
 */

const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const FILE = path.join(__dirname, '..', '..', 'index.d.ts');

function parsed() {
  return ts.createSourceFile(FILE, fs.readFileSync(FILE, 'utf8'), ts.ScriptTarget.Latest, true);
}

/** The string of a string-literal type node; throws for any other type. */
function stringLiteral(node, where) {
  if (!(ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal))) {
    throw new TypeError(`${where}: ${node.getText()} is not a string literal type`);
  }
  return node.literal.text;
}

function typeAlias(name) {
  const source = parsed();
  const alias = source.statements.find((s) => ts.isTypeAliasDeclaration(s) && s.name.text === name);
  if (!alias) throw new TypeError(`index.d.ts declares no type ${name}`);
  return { source, alias };
}

function declaredObject(name) {
  const source = parsed();
  const declaration = source.statements.filter(ts.isVariableStatement)
    .flatMap((s) => s.declarationList.declarations)
    .find((d) => ts.isIdentifier(d.name) && d.name.text === name);
  if (!declaration) throw new TypeError(`index.d.ts declares no const ${name}`);
  if (!(declaration.type && ts.isTypeLiteralNode(declaration.type))) {
    throw new TypeError(`${name}: its type is not an object type literal`);
  }
  return declaration.type.members.map((member) => {
    if (!(ts.isPropertySignature(member) && member.type && ts.isIdentifier(member.name))) {
      throw new TypeError(`${name}: ${member.getText()} is not a named property`);
    }
    return [member.name.text, stringLiteral(member.type, `${name}.${member.name.text}`)];
  });
}

function declaredUnion(name) {
  const { source, alias } = typeAlias(name);
  const members = ts.isUnionTypeNode(alias.type) ? alias.type.types : [alias.type];
  return {
    values: members.map((m) => stringLiteral(m, name)),
    doc: source.text.slice(alias.getFullStart(), alias.getStart()),
  };
}

const declaredAlias = (name) => typeAlias(name).alias.type.getText();

function stringLiteralTypes() {
  const found = [];
  const visit = (node) => {
    if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal)) found.push(node.literal.text);
    ts.forEachChild(node, visit);
  };
  visit(parsed());
  return found;
}

module.exports = {
  declaredObject, declaredUnion, declaredAlias, stringLiteralTypes,
};
