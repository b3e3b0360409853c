import { killLeftoverServices } from './service-process.js';

afterAll(killLeftoverServices);
