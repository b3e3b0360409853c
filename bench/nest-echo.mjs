// The yardstick: NestJS on Fastify (the project's installed @nestjs packages) with one
// `POST /echo` route that answers the request body, and nothing else: no database, no guard, no
// global pipe or filter. What the service does per request is measured against what Nest itself
// costs on this machine. It runs in a child process of its own, as the service does.
//
// Plain .mjs, so the decorators are applied as functions, in the order TypeScript's compiled
// output would apply them (parameter decorators as `(target, key, index)` calls).
import 'reflect-metadata';
import { Body, Controller, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';

class EchoController {
  echo(body) {
    return body;
  }
}
Reflect.decorate(
  [Post('echo'), (target, key) => Body()(target, key, 0)],
  EchoController.prototype,
  'echo',
  Object.getOwnPropertyDescriptor(EchoController.prototype, 'echo'),
);
Reflect.decorate([Controller()], EchoController);

class EchoModule {}
Reflect.decorate([Module({ controllers: [EchoController] })], EchoModule);

const app = await NestFactory.create(EchoModule, new FastifyAdapter({ logger: false }), {
  logger: ['error', 'warn'],
});
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
