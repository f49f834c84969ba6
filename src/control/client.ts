export class ControlClient {}
